/**
 * `tendril connectivity test`: the allow/deny paths the policies imply (agent/connectivity.ts).
 * `--manifests` prints the probe pods to apply on a cluster (kubernetes); without it, standalone
 * probing in network namespaces is not built and the command says so (exit 2).
 */
import type { Command } from 'commander';
import { isTendrilError, AggregateInputError } from '../../core/index.js';
import { createEngine, loadPolicies, loadWorld } from '../../policy/index.js';
import { connectivityPlan, probeManifests } from '../connectivity.js';
import { CliExit, EXIT, type CliIO } from './context.js';
import { formatTable } from './policy-format.js';

export function registerConnectivity(program: Command, io: CliIO): void {
  const c = program.command('connectivity').description('check the allow/deny paths of the loaded policies (like `cilium connectivity test`)');
  c.command('test')
    .description('list the expected allow/deny paths; --manifests prints probe pods that check them on a cluster')
    .requiredOption('--policies <path>', 'policy file or directory (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .requiredOption('--world <file>', 'world.yaml (endpoints, services, nodes)')
    .option('--manifests', 'print the probe Pods/Services as YAML for `kubectl apply -f -`')
    .option('--plan', 'print the expected paths only (no probing)')
    .option('--image <image>', 'probe image with nc', 'busybox:1.36')
    .option('-o, --output <format>', 'table | json (with --plan)', 'table')
    .action((opts: { policies: string[]; world: string; manifests?: boolean; plan?: boolean; image: string; output: string }) => {
      let engine;
      try {
        engine = createEngine({ policies: loadPolicies(opts.policies), world: loadWorld(opts.world) });
      } catch (err) {
        if (isTendrilError(err)) {
          const list = err instanceof AggregateInputError ? err.errors : [err];
          throw new CliExit(EXIT.USAGE, list.map((e) => `error: ${e.code}: ${e.message}`).join('\n'));
        }
        throw err;
      }
      const plan = connectivityPlan(engine);
      if (opts.manifests) return void io.stdout.write(probeManifests(engine, plan, opts.image));
      if (!opts.plan) {
        throw new CliExit(EXIT.USAGE, 'error: TND_CLI_USAGE: running probe pods in network namespaces (standalone) is not built; use --plan for the expected paths or --manifests for probe pods on a cluster');
      }
      if (opts.output === 'json') return void io.stdout.write(plan.map((p) => JSON.stringify(p)).join('\n') + (plan.length ? '\n' : ''));
      io.stdout.write(formatTable(['CLIENT', 'SERVER', 'PORT', 'EXPECT', 'REASON'], plan.map((p) => [p.client, p.server, String(p.port), p.expect, p.reason])));
    });
}
