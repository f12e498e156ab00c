/**
 * `tendril policy trace|validate|get`: thin wrappers over policy/ (load, evaluate) that only
 * format output. The trace contract is docs/reference/policy-trace.md.
 */
import type { Command } from 'commander';
import { AggregateInputError, isTendrilError } from '../../core/index.js';
import { createEngine, loadCases, loadPolicies, loadWorld, trace, lintPolicies, describeEndpoint, type TraceResult } from '../../policy/index.js';
import { CliExit, EXIT, type CliIO } from './context.js';
import { formatTable } from './policy-format.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function failInput(err: unknown): never {
  if (isTendrilError(err)) {
    const list = err instanceof AggregateInputError ? err.errors : [err];
    throw new CliExit(EXIT.USAGE, list.map((e) => `error: ${e.code}: ${e.message}`).join('\n'));
  }
  throw err;
}

function checkOutput(o: string): 'json' | 'table' {
  if (o === 'json' || o === 'table' || o === 'text') return o === 'json' ? 'json' : 'table';
  throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: -o/--output must be json or table, got ${JSON.stringify(o)}`);
}

export function registerPolicy(program: Command, io: CliIO): void {
  const policy = program.command('policy').description('validate, trace and inspect NetworkPolicy / CiliumNetworkPolicy / CCNP YAML');

  policy
    .command('trace')
    .description('evaluate connection cases against policies and a world (docs/reference/policy-trace.md)')
    .requiredOption('--policies <path>', 'policy file or directory (repeatable)', collect, [])
    .requiredOption('--world <file>', 'world.yaml: namespaces, endpoints, fqdns, entities')
    .requiredOption('--cases <file>', 'cases.yaml: connection attempts to evaluate')
    .option('-o, --output <format>', 'json (one line per case) or table', 'table')
    .action((opts: { policies: string[]; world: string; cases: string; output: string }) => {
      const format = checkOutput(opts.output);
      if (opts.policies.length === 0) throw new CliExit(EXIT.USAGE, 'error: TND_CLI_USAGE: --policies is required');
      let results: TraceResult[];
      let expected: (string | undefined)[] = [];
      try {
        const set = loadPolicies(opts.policies);
        const world = loadWorld(opts.world);
        const cases = loadCases(opts.cases);
        expected = cases.map((c) => c.expect);
        const engine = createEngine({ policies: set, world });
        results = trace(engine, cases, opts.cases);
        for (const w of set.warnings) io.stderr.write(`warning: ${w.message}\n`);
        for (const w of world.warnings) io.stderr.write(`warning: ${w}\n`);
      } catch (err) {
        failInput(err);
      }
      if (format === 'json') {
        io.stdout.write(results.map((r) => JSON.stringify(r)).join('\n') + (results.length ? '\n' : ''));
      } else {
        io.stdout.write(
          formatTable(
            ['ID', 'VERDICT', 'AUTH', 'L7', 'EGRESS', 'INGRESS', 'REASON'],
            results.map((r) => [r.id, r.verdict, r.authRequired ? 'required' : '-', r.l7 ?? '-', sideText(r.egress), sideText(r.ingress), r.reason]),
          ),
        );
        const differ = results.filter((r, i) => expected[i] !== undefined && expected[i] !== r.verdict).map((r) => r.id);
        if (expected.some((e) => e !== undefined)) {
          io.stderr.write(`${results.length} case(s); ${differ.length} differ from their expect${differ.length ? `: ${differ.join(', ')}` : ''}\n`);
        }
      }
    });

  policy
    .command('validate')
    .description('validate policy files/directories and warn about known traps (exit 0 valid, 2 invalid)')
    .argument('<paths...>', 'policy files or directories')
    .option('--world <file>', 'optional world.yaml: enables endpoint-aware checks (L7 merge conflicts)')
    .option('-o, --output <format>', 'json or table', 'table')
    .action((paths: string[], opts: { world?: string; output: string }) => {
      const format = checkOutput(opts.output);
      let lints;
      let count = 0;
      try {
        const set = loadPolicies(paths);
        count = set.documents.length;
        const world = opts.world ? loadWorld(opts.world) : undefined;
        if (world) createEngine({ policies: set, world });
        lints = [...set.warnings.map((w) => ({ code: 'ignored-kind', message: w.message })), ...lintPolicies(set, world)];
      } catch (err) {
        failInput(err);
      }
      if (format === 'json') {
        io.stdout.write(`${JSON.stringify({ valid: true, documents: count, warnings: lints })}\n`);
      } else {
        for (const l of lints) io.stderr.write(`warning: [${l.code}] ${l.message}\n`);
        io.stdout.write(`valid: ${count} policy document(s), ${lints.length} warning(s)\n`);
      }
    });

  policy
    .command('get')
    .description('print the resolved policy of endpoints (rules selecting each, per direction)')
    .requiredOption('--policies <path>', 'policy file or directory (repeatable)', collect, [])
    .requiredOption('--world <file>', 'world.yaml')
    .option('--endpoint <ns/pod>', 'only this endpoint')
    .option('-o, --output <format>', 'json or table', 'table')
    .action((opts: { policies: string[]; world: string; endpoint?: string; output: string }) => {
      const format = checkOutput(opts.output);
      let views;
      try {
        const engine = createEngine({ policies: loadPolicies(opts.policies), world: loadWorld(opts.world) });
        const eps = opts.endpoint ? [engine.world.byId.get(opts.endpoint)] : engine.world.endpoints;
        if (eps[0] === undefined && opts.endpoint) {
          throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: --endpoint ${opts.endpoint}: unknown endpoint (not in ${opts.world})`);
        }
        views = eps.map((ep) => describeEndpoint(engine, ep!));
      } catch (err) {
        if (err instanceof CliExit) throw err;
        failInput(err);
      }
      if (format === 'json') {
        io.stdout.write(`${JSON.stringify(views)}\n`);
        return;
      }
      for (const v of views) {
        io.stdout.write(`endpoint ${v.endpoint}  ingress: ${v.ingress.mode}  egress: ${v.egress.mode}\n`);
        if (v.ingress.mode !== 'not enforced') io.stdout.write('  (ingress from the local host is always allowed unless a deny rule matches: allow-localhost)\n');
        const rows = [...v.ingress.entries, ...v.egress.entries].map((e) => [e.direction, e.action, e.peers, e.ports, e.l7, e.auth, `${e.policy} ${e.rule}`]);
        if (rows.length > 0) io.stdout.write(formatTable(['DIR', 'ACTION', 'PEERS', 'PORTS', 'L7', 'AUTH', 'POLICY RULE'], rows));
        io.stdout.write('\n');
      }
    });
}

function sideText(s: TraceResult['egress']): string {
  if (!s) return '-';
  if (s.enforced === false) return `${s.verdict} (not enforced)`;
  return s.policy ? `${s.verdict} (${s.policy} ${s.rule ?? ''})`.replace(' )', ')') : s.verdict;
}
