/**
 * The HTTP proxy's flows as compact records (the store's fast path): the proxy describes each
 * request/response flow by an `HttpFlowRecord` (per-connection constants shared by reference,
 * plus the few per-request values) and `buildHttpFlow` turns it into the Flow. The same function
 * runs in the store's writer thread, so a record handed over there (instead of the flow's JSON)
 * becomes a flow with the same fields in the same key order, i.e. the same stored JSON. The IP,
 * l4 and event_type records are shared (frozen) between the flows of a connection.
 */
import { EVENT_TYPES, type TrafficDirection, type Verdict } from './enums.js';
import type { Endpoint, Flow, IP, Layer4 } from './flow.js';
import { l7Summary } from './summary.js';

/** Per-connection constants of every flow of one proxied connection (plain data: cloneable). */
export interface HttpFlowConn {
  /** Client address and port, original destination address and port. */
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  source: Endpoint;
  destination: Endpoint;
  nodeName: string;
  proxyPort: number;
  direction: TrafficDirection;
  /** Filled by buildHttpFlow on first use: the IP and l4 records of both directions (shared, frozen). */
  parts?: ConnParts;
}

interface ConnParts {
  ipOut: IP;
  ipBack: IP;
  l4Out: Layer4;
  l4Back: Layer4;
}

const L7_EVENT = Object.freeze({ type: EVENT_TYPES.l7 });

function connParts(c: HttpFlowConn): ConnParts {
  const v = (ip: string): IP['ipVersion'] => (ip.includes(':') ? 'IPv6' : 'IPv4');
  return Object.freeze({
    ipOut: Object.freeze({ source: c.srcIp, destination: c.dstIp, ipVersion: v(c.srcIp) }),
    ipBack: Object.freeze({ source: c.dstIp, destination: c.srcIp, ipVersion: v(c.dstIp) }),
    l4Out: Object.freeze({ TCP: Object.freeze({ source_port: c.srcPort, destination_port: c.dstPort }) }),
    l4Back: Object.freeze({ TCP: Object.freeze({ source_port: c.dstPort, destination_port: c.srcPort }) }),
  });
}

/** The outcome fields a policy verdict adds to a REQUEST flow (see `outcomeFromVerdict`). */
export type HttpFlowOutcome = Partial<Flow> & { verdict: Verdict };

/** One request flow (kind 0), rejected-request flow (kind 1) or response flow (kind 2). */
export interface HttpFlowRecord {
  conn: HttpFlowConn;
  kind: 0 | 1 | 2;
  time: string;
  uuid: string;
  method: string;
  url: string;
  protocol: string;
  /** kind 0: the policy outcome (shared, frozen). */
  outcome: HttpFlowOutcome | null;
  /** kind 1: the status answered; kind 2: the response code. */
  code: number;
  /** kind 2. */
  latencyNs: number;
  /** kind 2: FORWARDED, DROPPED (denial answered 403) or ERROR. */
  verdict: Verdict;
  /** kind 1: why the request was rejected; kind 2 not FORWARDED: the reason. */
  reason: string;
  /** kind 2 DROPPED: the denial was for want of mutual authentication (AUTH_REQUIRED). */
  authFailed: boolean;
}

/** Builds the Flow a record stands for (one object literal, fixed key order). */
export function buildHttpFlow(r: HttpFlowRecord): Flow {
  const c = r.conn;
  const reply = r.kind === 2;
  const http = { code: reply ? r.code : 0, method: r.method, url: r.url, protocol: r.protocol };
  const l7: Flow['l7'] = reply ? { type: 'RESPONSE', latency_ns: r.latencyNs, http } : { type: 'REQUEST', http };
  const verdict: Verdict = r.kind === 0 ? r.outcome!.verdict : r.kind === 1 ? 'DROPPED' : r.verdict;
  const p = (c.parts ??= connParts(c));
  const flow: Flow = {
    time: r.time,
    uuid: r.uuid,
    verdict,
    IP: reply ? p.ipBack : p.ipOut,
    l4: reply ? p.l4Back : p.l4Out,
    source: reply ? c.destination : c.source,
    destination: reply ? c.source : c.destination,
    Type: 'L7',
    node_name: c.nodeName,
    l7,
    is_reply: reply,
    event_type: L7_EVENT,
    traffic_direction: c.direction,
    proxy_port: c.proxyPort,
    Summary: l7Summary(l7!),
  };
  if (r.kind === 0) return Object.assign(flow, r.outcome);
  if (r.kind === 1) {
    flow.drop_reason_desc = 'INVALID_PACKET_DROPPED';
    flow.policy_log = [`malformed request answered ${r.code}: ${r.reason}`];
    return flow;
  }
  if (verdict !== 'FORWARDED') flow.policy_log = [r.reason];
  if (verdict === 'DROPPED') flow.drop_reason_desc = r.authFailed ? 'AUTH_REQUIRED' : 'POLICY_DENIED';
  return flow;
}
