/**
 * Text renderings of flows exactly as the hubble v0.12 CLI prints them (hubble-compat §3):
 * compact lines, `-o json` (one GetFlowsResponse per line) and `-o table`. Formatting only; the
 * Summary is the server's (observe/summary.ts).
 */
import { dropReasonText, RESERVED_IDENTITIES, TRACE_SUB_TYPES } from './enums.js';
import type { Endpoint, Flow, Service } from './flow.js';
import { parseFlowTime } from './new-flow.js';

export interface PrintOptions {
  /** Print times in UTC instead of the local time zone. */
  utc?: boolean;
  /** Prefix the node name (`--print-node-name`). */
  printNodeName?: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MATCH_TYPES = ['none', 'L3-Only', 'L3-L4', 'L4-Only', 'all', 'L3-Proto', 'Proto-Only'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Go's StampMilli (`Jan _2 15:04:05.000`); `N/A` for a missing or invalid time. */
export function formatStampMilli(time: string, utc = false): string {
  const ns = parseFlowTime(time);
  if (ns === null) return 'N/A';
  const d = new Date(Number(ns / 1_000_000n));
  const [mo, day, h, m, s, ms] = utc
    ? [d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${MONTHS[mo]} ${String(day).padStart(2, ' ')} ${pad2(h)}:${pad2(m)}:${pad2(s)}.${String(ms).padStart(3, '0')}`;
}

function joinHostPort(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${h}:${port}`;
}

function hostName(ip: string | undefined, ep: Endpoint | undefined, svc: Service | undefined, names: string[] | undefined): string {
  if (ep?.pod_name) return `${svc ? svc.namespace : (ep.namespace ?? '')}/${ep.pod_name}`;
  if (svc) return `${svc.namespace}/${svc.name}`;
  if (names && names.length > 0) return names.join(',');
  return ip ?? '';
}

/** One side as `name[:port]`. */
function side(flow: Flow, which: 'source' | 'destination'): string {
  if (!flow.IP) return '';
  const src = which === 'source';
  const name = hostName(
    src ? flow.IP.source : flow.IP.destination,
    src ? flow.source : flow.destination,
    src ? flow.source_service : flow.destination_service,
    src ? flow.source_names : flow.destination_names,
  );
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP ?? flow.l4?.SCTP;
  const port = l4 ? (src ? l4.source_port : l4.destination_port) : 0;
  return port ? joinHostPort(name, port) : name;
}

function identity(ep: Endpoint | undefined): string {
  const id = ep?.identity ?? 0;
  if (id === 0) return '(unknown)';
  const reserved = RESERVED_IDENTITIES[id];
  return reserved ? `(${reserved})` : `(ID:${id})`;
}

/** The TYPE column. */
export function flowTypeText(flow: Flow): string {
  const l7 = flow.l7;
  if (l7) {
    let proto = 'l7';
    let type = l7.type.toLowerCase();
    if (l7.http) proto = 'http';
    else if (l7.dns) {
      proto = 'dns';
      type += ` ${l7.dns.observation_source ?? ''}`;
    } else if (l7.kafka) proto = 'kafka';
    return `${proto}-${type}`;
  }
  const sub = flow.event_type.sub_type ?? 0;
  switch (flow.event_type.type) {
    case 4:
      return TRACE_SUB_TYPES[sub] ?? String(sub);
    case 1:
      return dropReasonText(sub);
    case 5:
      return `policy-verdict:${MATCH_TYPES[flow.policy_match_type ?? 0] ?? flow.policy_match_type} ${flow.traffic_direction}`;
    default:
      return 'UNKNOWN';
  }
}

/** The VERDICT column (policy-verdict events say ALLOWED/DENIED/AUDITED). */
export function verdictText(flow: Flow): string {
  if (flow.event_type.type === 5) {
    if (flow.verdict === 'FORWARDED' || flow.verdict === 'REDIRECTED') return 'ALLOWED';
    if (flow.verdict === 'DROPPED' || flow.verdict === 'ERROR') return 'DENIED';
    if (flow.verdict === 'AUDIT') return 'AUDITED';
  }
  return flow.verdict;
}

function summaryText(flow: Flow): string {
  return flow.auth_type && flow.auth_type !== 'DISABLED' ? `${flow.Summary}; Auth: ${flow.auth_type}` : flow.Summary;
}

/** Source/destination columns after the reply swap (client always on the left). */
function sides(flow: Flow): { arrow: string; left: string; leftId: string; right: string; rightId: string } {
  const s = side(flow, 'source');
  const d = side(flow, 'destination');
  const sid = identity(flow.source);
  const did = identity(flow.destination);
  if (flow.is_reply === true) return { arrow: '<-', left: d, leftId: did, right: s, rightId: sid };
  return { arrow: flow.is_reply === false ? '->' : '<>', left: s, leftId: sid, right: d, rightId: did };
}

/** One compact line (no newline), as `hubble observe` prints it with `--color never`. */
export function formatCompact(flow: Flow, opts: PrintOptions = {}): string {
  const ts = formatStampMilli(flow.time, opts.utc);
  const node = opts.printNodeName ? ` [${flow.node_name}]` : '';
  const x = sides(flow);
  return `${ts}${node}: ${x.left} ${x.leftId} ${x.arrow} ${x.right} ${x.rightId} ${flowTypeText(flow)} ${verdictText(flow)} (${summaryText(flow)})`;
}

/** One `-o json` line: a GetFlowsResponse in proto3 JSON with proto field names. */
export function formatJson(flow: Flow): string {
  return JSON.stringify({ flow, node_name: flow.node_name, time: flow.time });
}

export const TABLE_HEADER = ['TIMESTAMP', 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY'];

/** The `-o table` cells of one flow. */
export function tableRow(flow: Flow, opts: PrintOptions = {}): string[] {
  const x = sides(flow);
  return [formatStampMilli(flow.time, opts.utc), x.left, x.right, flowTypeText(flow), verdictText(flow), summaryText(flow)];
}

/** Aligns rows like Go's tabwriter (min width 2, padding 3, spaces). */
export function alignTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 2, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join(''))
    .join('\n');
}
