/**
 * How a Flow maps to the store's columns: the client/server names of the pair (the `ns/pod` the
 * compact printer shows, else service, DNS name or IP), namespaces, destination port, protocol.
 */
import type { Endpoint, Flow, Service } from '../flow.js';
import { parseFlowTime } from '../new-flow.js';

export const HOUR_US = 3_600_000_000;

/** One flow as the columns of `flows`, sides oriented client -> server. */
export interface FlowRow {
  /** Epoch microseconds. */
  timeUs: number;
  srcNs: string;
  src: string;
  dstNs: string;
  dst: string;
  dstPort: number;
  protocol: string;
  verdict: string;
  isReply: boolean;
  json: string;
}

function name(ep: Endpoint | undefined, svc: Service | undefined, names: string[] | undefined, ip: string | undefined): { ns: string; name: string } {
  if (ep?.pod_name) return { ns: ep.namespace ?? '', name: `${ep.namespace ?? ''}/${ep.pod_name}` };
  if (svc) return { ns: svc.namespace, name: `${svc.namespace}/${svc.name}` };
  if (names && names.length > 0) return { ns: '', name: names[0]! };
  if (ip) return { ns: ep?.namespace ?? '', name: ip };
  return { ns: ep?.namespace ?? '', name: ep?.labels?.find((l) => l.startsWith('reserved:')) ?? 'unknown' };
}

export function protocolOf(flow: Flow): { protocol: string; srcPort: number; dstPort: number } {
  const l4 = flow.l4;
  if (l4?.TCP) return { protocol: 'TCP', srcPort: l4.TCP.source_port, dstPort: l4.TCP.destination_port };
  if (l4?.UDP) return { protocol: 'UDP', srcPort: l4.UDP.source_port, dstPort: l4.UDP.destination_port };
  if (l4?.SCTP) return { protocol: 'SCTP', srcPort: l4.SCTP.source_port, dstPort: l4.SCTP.destination_port };
  if (l4?.ICMPv4) return { protocol: 'ICMPv4', srcPort: 0, dstPort: 0 };
  if (l4?.ICMPv6) return { protocol: 'ICMPv6', srcPort: 0, dstPort: 0 };
  return { protocol: '', srcPort: 0, dstPort: 0 };
}

let lastPrefix = '';
let lastPrefixMs = -1;

/**
 * Epoch µs of a `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` time at or after 1970 without BigInt (the
 * seconds of the last call cached), or -1 for any other form (then parseFlowTime decides).
 */
function fastTimeUs(t: string): number {
  if (t.length !== 30 || t.charCodeAt(19) !== 46 || t.charCodeAt(29) !== 90) return -1;
  let frac = 0;
  for (let i = 20; i < 29; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    frac = frac * 10 + d;
  }
  const prefix = t.slice(0, 19);
  if (prefix !== lastPrefix) {
    const ms = Date.parse(`${prefix}Z`);
    if (!(ms >= 0)) return -1;
    lastPrefix = prefix;
    lastPrefixMs = ms;
  }
  return lastPrefixMs * 1000 + Math.floor(frac / 1000);
}

/**
 * Builds the row; returns null for a flow without a parsable time. `json`, when given, must be
 * `JSON.stringify(flow)` (computed by the caller more cheaply).
 */
export function toRow(flow: Flow, json?: string): FlowRow | null {
  let timeUs = fastTimeUs(flow.time);
  if (timeUs < 0) {
    const ns = parseFlowTime(flow.time);
    if (ns === null) return null;
    timeUs = Number(ns / 1000n);
  }
  const s = name(flow.source, flow.source_service, flow.source_names, flow.IP?.source);
  const d = name(flow.destination, flow.destination_service, flow.destination_names, flow.IP?.destination);
  const p = protocolOf(flow);
  const reply = flow.is_reply === true;
  // Orient client -> server: a reply travels server -> client.
  const [cli, srv, port] = reply ? [d, s, p.srcPort] : [s, d, p.dstPort];
  return {
    timeUs,
    srcNs: cli.ns,
    src: cli.name,
    dstNs: srv.ns,
    dst: srv.name,
    dstPort: port,
    protocol: p.protocol,
    verdict: flow.verdict,
    isReply: reply,
    json: json ?? JSON.stringify(flow),
  };
}
