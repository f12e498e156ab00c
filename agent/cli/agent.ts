/**
 * `tendril agent`: runs the node agent in the foreground until SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import { loadConfig, refuseUnsupported, DEFAULT_CONFIG_FILE } from '../../config/index.js';
import { CliExit, EXIT, type CliIO } from './context.js';

interface AgentOpts {
  config?: string;
  set: string[];
  logLevel?: string;
  checkConfig?: boolean;
}

export function registerAgent(program: Command, io: CliIO): void {
  program
    .command('agent')
    .description(
      'run the per-node agent: policy engine, L7 proxy listeners, eBPF datapath (when root), ' +
        'Hubble-compatible flow API and metrics. In standalone mode (the default) policies come from ' +
        'a directory and endpoints from a world file; no cluster is needed.',
    )
    .option('-c, --config <file>', `YAML config file (default: ${DEFAULT_CONFIG_FILE})`)
    .option('--set <key=value>', 'override a config key, Helm style (repeatable), e.g. --set hubble.metrics.enabled={drop,http}', collect, [])
    .option('--log-level <level>', 'trace | debug | info | warn | error')
    .option('--check-config', 'validate the configuration, policies and world, print the result and exit')
    .addHelpText(
      'after',
      '\nConfiguration is merged in this order: defaults, the --config file, TENDRIL__<KEY>__<SUBKEY>\n' +
        'environment variables, then --set flags. Keys follow Cilium Helm values where they exist:\n' +
        '  kubeProxyReplacement, k8sServiceHost, k8sServicePort, hubble.enabled, hubble.listenAddress,\n' +
        '  hubble.metrics.enabled, hubble.relay.enabled, hubble.ui.enabled, encryption.enabled, encryption.type\n' +
        'plus mode (standalone|kubernetes), standalone.policies, standalone.world, standalone.redirects.\n\n' +
        'Endpoints: health http://127.0.0.1:9879/healthz and /readyz, Hubble Observer gRPC 127.0.0.1:4245,\n' +
        'Prometheus metrics http://127.0.0.1:9965/metrics (all configurable).\n',
    )
    .action(async (opts: AgentOpts) => {
      const sets = [...opts.set];
      if (opts.logLevel) sets.push(`log.level=${opts.logLevel}`);
      const config = loadConfig({ file: opts.config ?? DEFAULT_CONFIG_FILE, env: process.env, sets });
      refuseUnsupported(config);
      // Loaded on use, so `tendril --help` and the other commands stay fast and independent.
      const [{ Agent }, { createLogger }, { buildComponents }] = await Promise.all([
        import('../agent.js'),
        import('../logger.js'),
        import('../components.js'),
      ]);
      const log = createLogger(config.log);
      if (opts.checkConfig && config.mode === 'kubernetes') {
        // Policies and endpoints come from the API server: validated as they arrive, not here.
        io.stdout.write('configuration is valid (mode: kubernetes: policies and endpoints are read from the API server at start)\n');
        return;
      }
      const agent = new Agent(config, log, buildComponents);
      if (opts.checkConfig) {
        await agent.start().finally(() => agent.stop());
        io.stdout.write('configuration, policies and world are valid\n');
        return;
      }
      let signalled = false;
      const onSignal = (sig: NodeJS.Signals): void => {
        if (signalled) return;
        signalled = true;
        log.info({ signal: sig }, 'shutting down');
        agent.stop().then(
          () => {
            log.flush?.();
            process.exit(0);
          },
          () => process.exit(1),
        );
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await agent.start();
      } catch (err) {
        await agent.stop();
        throw err;
      }
      await new Promise<void>(() => undefined); // runs until a signal
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
