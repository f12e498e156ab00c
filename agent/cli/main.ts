/**
 * The `tendril` command line: the only place that reads process.argv. Each subcommand lives in
 * its own module under agent/cli/ and exports `register(program, io)`.
 */
import { Command, CommanderError } from 'commander';
import { isTendrilError } from '../../core/index.js';
import { CliExit, EXIT, type CliIO } from './context.js';
import { registerAgent } from './agent.js';
import { registerPolicy } from './policy.js';
import { registerProxy } from './proxy.js';
import { registerObserve } from './observe.js';
import { registerStatus } from './status.js';
import { registerVersion, VERSION } from './version.js';
import { registerDemo } from './demo.js';
import { registerFqdn } from './fqdn.js';
import { registerIdentity } from './identity.js';
import { registerEndpoint } from './endpoint.js';
import { registerConnectivity } from './connectivity.js';

export function buildProgram(io: CliIO): Command {
  const program = new Command('tendril')
    .description(
      'Tendril: sidecar-free L7 policy, mTLS and flow observability for Kubernetes nodes. ' +
        'Accepts NetworkPolicy, CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy YAML unchanged; ' +
        'flows and metrics are Hubble-compatible.',
    )
    .version(VERSION, '-V, --version', 'print the version and exit')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  registerAgent(program, io);
  registerPolicy(program, io);
  registerProxy(program, io);
  registerObserve(program, io);
  registerStatus(program, io);
  registerVersion(program, io);
  registerDemo(program, io);
  registerFqdn(program, io);
  registerIdentity(program, io);
  registerEndpoint(program, io);
  registerConnectivity(program, io);
  program.addHelpText(
    'after',
    '\nExamples:\n' +
      '  tendril agent                                   run the node agent (standalone mode, example policies)\n' +
      '  tendril policy validate config/examples/        lint and validate policy YAML\n' +
      '  tendril policy trace --policies p/ --world w.yaml --cases c.yaml -o json\n' +
      '  tendril observe --namespace payments --verdict DROPPED --follow\n',
  );
  // Apply exitOverride + output config to every subcommand, recursively.
  const configure = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError('(run with --help for usage)').configureOutput({
        writeOut: (s) => io.stdout.write(s),
        writeErr: (s) => io.stderr.write(s),
      });
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/** Runs the CLI; resolves to the exit code (the process exits with it). */
export async function runCli(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      // Usage errors (unknown command/option, missing argument): commander already printed the message.
      return EXIT.USAGE;
    }
    if (err instanceof CliExit) {
      if (err.message) io.stderr.write(err.message.endsWith('\n') ? err.message : `${err.message}\n`);
      return err.exitCode;
    }
    if (isTendrilError(err)) {
      io.stderr.write(`error: ${err.message}\n`);
      return EXIT.USAGE;
    }
    io.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.FAILURE;
  }
}

// `tendril observe ... | head`: a closed pipe ends the command quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain || process.env.TENDRIL_CLI_MAIN === '1') {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
