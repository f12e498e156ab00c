/**
 * `tendril observe`: Hubble's `hubble observe` for Tendril. Reads flows from an Observer API
 * (the agent's, or any Hubble server/relay: `--server host:port`, default 127.0.0.1:4245) or from
 * the retained flow store (`--store <path>`), filters them server-side with Hubble's FlowFilter
 * semantics, and prints compact / json / table lines exactly like the hubble CLI.
 * `--aggregate pairs` answers "who talked to whom" with counts, verdicts, first/last seen.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import {
  aggregateFlows,
  alignTable,
  buildWhitelist,
  DEFAULT_OBSERVER_ADDRESS,
  FlowStore,
  isPostgresUrl,
  PgFlowStore,
  formatCompact,
  formatJson,
  formatPairJson,
  formatPairsTable,
  ObserverClient,
  parseTimeArg,
  TABLE_HEADER,
  tableRow,
  type FlowFilter,
  type ObserveFlags,
  type PairAggregate,
} from '../../observe/consumers/index.js';
import type { Flow } from '../../observe/index.js';
import { isTendrilError } from '../../core/index.js';
import { CliExit, EXIT, type CliIO } from './context.js';

const OUTPUTS = ['compact', 'json', 'jsonpb', 'table'] as const;
type Output = (typeof OUTPUTS)[number];

interface ObserveOptions extends ObserveFlags {
  output: string;
  server: string;
  store?: string;
  aggregate?: string;
  since?: string;
  until?: string;
  last?: string;
  first?: string;
  all?: boolean;
  follow?: boolean;
  printNodeName?: boolean;
  tls?: boolean;
  tlsCaCertFiles?: string[];
  tlsClientCertFile?: string;
  tlsClientKeyFile?: string;
  tlsServerName?: string;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function usage(message: string): CliExit {
  return new CliExit(EXIT.USAGE, `error: ${message}`);
}

function count(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw usage(`${flag}: want a number, got ${JSON.stringify(v)}`);
  return Number(v);
}

interface Selection {
  number: number;
  first: boolean;
  follow: boolean;
  sinceMs?: number;
  untilMs?: number;
}

/** Selector flags -> GetFlowsRequest fields, as the hubble CLI sends them (hubble-compat §2.3). */
function selection(o: ObserveOptions): Selection {
  const now = Date.now();
  const last = count('--last', o.last);
  const first = count('--first', o.first);
  if (last !== undefined && first !== undefined) throw usage('--last and --first cannot be combined');
  if (first !== undefined && o.follow) throw usage('--first and --follow cannot be combined');
  let sinceMs: number | undefined;
  let untilMs: number | undefined;
  try {
    sinceMs = o.since !== undefined ? parseTimeArg(o.since, '--since', now) : undefined;
    untilMs = o.until !== undefined && !o.follow ? parseTimeArg(o.until, '--until', now) : undefined;
  } catch (err) {
    throw usage((err as Error).message);
  }
  let number = last ?? first ?? 0;
  if (o.all) number = Number.MAX_SAFE_INTEGER;
  else if (number === 0 && !o.follow && sinceMs === undefined && untilMs === undefined) number = 20;
  return { number, first: first !== undefined, follow: o.follow === true, sinceMs, untilMs };
}

class Printer {
  private readonly rows: string[][] = [TABLE_HEADER];
  constructor(private readonly io: CliIO, private readonly output: Output, private readonly o: ObserveOptions) {}

  flow(f: Flow): void {
    if (this.output === 'json' || this.output === 'jsonpb') this.io.stdout.write(`${formatJson(f)}\n`);
    else if (this.output === 'table') {
      if (this.o.follow) this.io.stdout.write(`${tableRow(f).join('\t')}\n`);
      else this.rows.push(tableRow(f));
    } else this.io.stdout.write(`${formatCompact(f, { printNodeName: this.o.printNodeName })}\n`);
  }

  start(): void {
    if (this.output === 'table' && this.o.follow) this.io.stdout.write(`${TABLE_HEADER.join('\t')}\n`);
  }

  end(): void {
    if (this.output === 'table' && !this.o.follow) this.io.stdout.write(`${alignTable(this.rows)}\n`);
  }

  pairs(pairs: PairAggregate[]): void {
    if (this.output === 'json' || this.output === 'jsonpb') for (const p of pairs) this.io.stdout.write(`${formatPairJson(p)}\n`);
    else this.io.stdout.write(`${formatPairsTable(pairs)}\n`);
  }
}

async function fromStore(o: ObserveOptions, sel: Selection, whitelist: FlowFilter[], blacklist: FlowFilter[], out: Printer): Promise<void> {
  const location = o.store!;
  if (sel.follow) throw usage('--follow reads live flows from --server; it cannot be used with --store');
  const pg = isPostgresUrl(location);
  if (!pg && !existsSync(location)) throw usage(`--store: ${location}: no such flow store (the agent writes it at hubble.store.path, or give hubble.store.url)`);
  // Both backends answer the same queries; PostgreSQL's are asynchronous.
  let store: FlowStore | PgFlowStore;
  try {
    store = pg ? await PgFlowStore.open(location) : new FlowStore(location);
  } catch (err) {
    // An unreachable database is a runtime failure (exit 1), like an unreachable --server.
    if (pg && isTendrilError(err)) throw new CliExit(EXIT.FAILURE, `error: ${err.message}`);
    throw err;
  }
  try {
    const q = { sinceUs: sel.sinceMs !== undefined ? sel.sinceMs * 1000 : undefined, untilUs: sel.untilMs !== undefined ? sel.untilMs * 1000 : undefined, whitelist, blacklist };
    if (o.aggregate) {
      out.pairs(await store.aggregatePairs(q));
      return;
    }
    const flows = await store.queryFlows({ ...q, number: sel.number, first: sel.first });
    out.start();
    for (const f of flows) out.flow(f);
    out.end();
  } finally {
    await store.close();
  }
}

async function fromServer(o: ObserveOptions, sel: Selection, whitelist: FlowFilter[], blacklist: FlowFilter[], io: CliIO, out: Printer): Promise<void> {
  const tlsWanted = o.tls || o.tlsCaCertFiles || o.tlsClientCertFile || o.tlsClientKeyFile || o.tlsServerName;
  if (!o.tls && tlsWanted) throw usage('--tls-* flags need --tls');
  const client = new ObserverClient(
    o.server,
    o.tls ? { caFiles: o.tlsCaCertFiles, clientCertFile: o.tlsClientCertFile, clientKeyFile: o.tlsClientKeyFile, serverName: o.tlsServerName } : undefined,
  );
  const { events, cancel } = client.getFlows({
    number: o.aggregate && !o.last && !o.first ? (sel.sinceMs !== undefined ? 0 : Number.MAX_SAFE_INTEGER) : sel.number,
    first: sel.first,
    follow: sel.follow,
    sinceNs: sel.sinceMs !== undefined ? BigInt(sel.sinceMs) * 1_000_000n : undefined,
    untilNs: sel.untilMs !== undefined ? BigInt(sel.untilMs) * 1_000_000n : undefined,
    whitelist,
    blacklist,
  });
  const onSignal = (): void => cancel();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const collected: Flow[] = [];
  try {
    out.start();
    for await (const e of events) {
      if ('lost' in e) io.stderr.write(`EVENTS LOST: ${e.lost.source} ${e.lost.num_events_lost}\n`);
      else if (o.aggregate) collected.push(e.flow);
      else out.flow(e.flow);
    }
    if (o.aggregate) out.pairs(aggregateFlows(collected));
    else out.end();
  } catch (err) {
    if (isTendrilError(err) && err.context.grpcCode === 3) throw usage(err.message);
    if (isTendrilError(err)) {
      throw new CliExit(EXIT.FAILURE, `error: ${err.message}\n(is the agent running? start it with \`tendril agent\`, or point --server at a Hubble API, or read a flow store with --store <path>)`);
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    client.close();
  }
}

/** Filter flags: [flags, ObserveFlags key, help]. `--not` before one of them blacklists it. */
const FILTER_FLAGS: Array<[string, keyof ObserveFlags, string]> = [
  ['-n, --namespace <ns>', 'namespace', 'flows from or to pods in this namespace (repeatable)'],
  ['--from-namespace <ns>', 'fromNamespace', 'flows from pods in this namespace'],
  ['--to-namespace <ns>', 'toNamespace', 'flows to pods in this namespace'],
  ['--pod <[ns/]pod>', 'pod', 'flows from or to this pod (name prefix; namespace default when omitted)'],
  ['--from-pod <[ns/]pod>', 'fromPod', 'flows from this pod'],
  ['--to-pod <[ns/]pod>', 'toPod', 'flows to this pod'],
  ['-l, --label <selector>', 'label', 'flows from or to endpoints with these labels (k8s:app=foo)'],
  ['--from-label <selector>', 'fromLabel', 'flows from endpoints with these labels'],
  ['--to-label <selector>', 'toLabel', 'flows to endpoints with these labels'],
  ['--ip <ip|cidr>', 'ip', 'flows from or to this IP or CIDR'],
  ['--from-ip <ip|cidr>', 'fromIp', 'flows from this IP or CIDR'],
  ['--to-ip <ip|cidr>', 'toIp', 'flows to this IP or CIDR'],
  ['--fqdn <pattern>', 'fqdn', 'flows from or to this DNS name (wildcards: *.example.com)'],
  ['--from-fqdn <pattern>', 'fromFqdn', 'flows from this DNS name'],
  ['--to-fqdn <pattern>', 'toFqdn', 'flows to this DNS name'],
  ['--port <port>', 'port', 'flows from or to this L4 port'],
  ['--from-port <port>', 'fromPort', 'flows from this L4 port'],
  ['--to-port <port>', 'toPort', 'flows to this L4 port'],
  ['--identity <id>', 'identity', 'flows from or to this security identity'],
  ['--from-identity <id>', 'fromIdentity', 'flows from this security identity'],
  ['--to-identity <id>', 'toIdentity', 'flows to this security identity'],
  ['--service <[ns/]svc>', 'service', 'flows from or to this service'],
  ['--from-service <[ns/]svc>', 'fromService', 'flows from this service'],
  ['--to-service <[ns/]svc>', 'toService', 'flows to this service'],
  ['--verdict <list>', 'verdict', 'FORWARDED, DROPPED, ERROR, AUDIT, ... (comma list, repeatable)'],
  ['--protocol <proto>', 'protocol', 'tcp, udp, sctp, icmp, icmpv4, icmpv6, dns, http, kafka'],
  ['--http-method <method>', 'httpMethod', 'HTTP method'],
  ['--http-path <regex>', 'httpPath', 'regular expression on the HTTP path'],
  ['--http-status <code>', 'httpStatus', 'HTTP status code, or prefix with + (5+, 40+)'],
  ['-t, --type <type>', 'type', 'event type: l7, drop, trace, trace:to-endpoint, policy-verdict, ...'],
  ['--node-name <pattern>', 'nodeName', 'node name pattern'],
  ['--traffic-direction <dir>', 'trafficDirection', 'ingress or egress'],
  ['--uuid <uuid>', 'uuid', 'one flow by its uuid'],
  ['--dns-query <regex>', 'dnsQuery', 'regular expression on the DNS query name'],
];

export function registerObserve(program: Command, io: CliIO): void {
  // Filter flags in command-line order, so `--not` applies to the flag after it (as in hubble).
  const given: Array<{ key: keyof ObserveFlags; value: string; negated: boolean }> = [];
  let negateNext = false;
  const cmd = program
    .command('observe')
    .description('Show flows (Hubble-compatible) from the agent\'s observer API or the flow store')
    .option('--not', 'put the next filter flag into the blacklist (exclude what it matches)');
  for (const [flags, key, help] of FILTER_FLAGS) {
    cmd.option(flags, help, (value: string, prev: string[] | undefined) => {
      given.push({ key, value, negated: negateNext });
      negateNext = false;
      return collect(value, prev);
    });
  }
  cmd.on('option:not', () => {
    negateNext = true;
  });
  cmd
    .option('--since <time>', 'flows since a duration ago (7d, 1h30m) or an RFC 3339 time')
    .option('--until <time>', 'flows until a duration ago or an RFC 3339 time')
    .option('--last <n>', 'the last N flows (default 20 without --since/--follow)')
    .option('--first <n>', 'the first N flows')
    .option('--all', 'all flows the source holds')
    .option('-f, --follow', 'keep streaming new flows (Ctrl-C to stop)')
    .option('-o, --output <format>', 'compact, json, jsonpb or table', 'compact')
    .option('--print-node-name', 'prefix each compact line with the node name')
    .option('--server <host:port>', 'Observer API address (a Tendril agent or Hubble)', DEFAULT_OBSERVER_ADDRESS)
    .option('--store <path|url>', 'read the retained flow store instead of the API: a SQLite file or a postgres:// URL')
    .option('--tls', 'connect to --server with TLS (a Hubble server or relay with TLS on)')
    .option('--tls-ca-cert-files <file>', 'CA certificate(s) to verify the server (repeatable; default: system roots)', collect)
    .option('--tls-client-cert-file <file>', 'client certificate for mutual TLS')
    .option('--tls-client-key-file <file>', 'client private key for mutual TLS')
    .option('--tls-server-name <name>', 'name to verify the server certificate against (e.g. <node>.default.hubble-grpc.cilium.io)')
    .option('--aggregate <kind>', 'pairs: who talked to whom, with counts, verdicts, first/last seen')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  tendril observe --namespace payments --verdict DROPPED --follow\n' +
        '  tendril observe --to-pod payments/payment-service --http-status 5+ --last 50 -o json\n' +
        '  tendril observe --store .tendril/flows.db --namespace payments --since 7d --aggregate pairs\n',
    )
    .action(async (o: ObserveOptions) => {
      if (!(OUTPUTS as readonly string[]).includes(o.output)) throw usage(`--output: want one of ${OUTPUTS.join(', ')}, got ${JSON.stringify(o.output)}`);
      if (o.aggregate !== undefined && o.aggregate !== 'pairs') throw usage(`--aggregate: only "pairs" is supported, got ${JSON.stringify(o.aggregate)}`);
      if (o.aggregate && o.follow) throw usage('--aggregate cannot be combined with --follow');
      if (negateNext) throw usage('--not must be followed by a filter flag');
      const positive: ObserveFlags = {};
      const negative: ObserveFlags = {};
      for (const g of given) {
        const into = g.negated ? negative : positive;
        (into[g.key] ??= []).push(g.value);
      }
      let whitelist: FlowFilter[];
      let blacklist: FlowFilter[];
      try {
        whitelist = buildWhitelist(positive);
        blacklist = buildWhitelist(negative);
      } catch (err) {
        throw usage((err as Error).message);
      }
      const sel = selection(o);
      const out = new Printer(io, o.output as Output, o);
      try {
        if (o.store !== undefined) await fromStore(o, sel, whitelist, blacklist, out);
        else await fromServer(o, sel, whitelist, blacklist, io, out);
      } catch (err) {
        if (err instanceof CliExit) throw err;
        if (isTendrilError(err) && err.code === 'TND_OBSERVE_QUERY') throw usage(err.message);
        throw err;
      }
    });
}
