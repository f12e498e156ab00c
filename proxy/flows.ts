/**
 * Flow records the HTTP proxy emits (Hubble field names, docs/reference/hubble-compat.md §2):
 * - a REQUEST flow per judged request: FORWARDED, or DROPPED with POLICY_DENIED and the deciding
 *   policy (`ingress_denied_by` / `egress_denied_by`) from the Verdict;
 * - a RESPONSE flow per answered request with `code` and `latency_ns` (is_reply=true, sides
 *   swapped as Hubble sends them); upstream failures are verdict ERROR with the reason in
 *   `policy_log`;
 * - a DROPPED request flow with INVALID_PACKET_DROPPED for requests the hardened parser rejected.
 * All construction lives here so the emitters stay one call each.
 */
import { randomUUID } from 'node:crypto';
import type { Endpoint, Flow, FlowSink, HttpFlowConn, HttpFlowRecord } from '../observe/index.js';
import { buildHttpFlow, nowFlowTime, outcomeFromVerdict } from '../observe/index.js';
import type { Verdict as PolicyVerdict } from '../policy/api.js';
import type { RedirectTarget } from './redirect-source.js';
import { isAuthDenial } from './auth-gate.js';

/** Turns `<namespace>/<pod>` (or null = world) into a flow Endpoint (labels, identity). */
/** `ip` lets a describer name non-endpoint peers (host, remote-node, kube-apiserver) instead of world. */
export type DescribeEndpoint = (endpoint: string | null, ip?: string) => Endpoint;

/** Default description: namespace and pod from the name, `reserved:world` for non-endpoints. */
export const describeByName: DescribeEndpoint = (endpoint) => {
  if (endpoint === null) return { identity: 2, labels: ['reserved:world'] };
  const slash = endpoint.indexOf('/');
  return { namespace: endpoint.slice(0, slash), pod_name: endpoint.slice(slash + 1), labels: [] };
};

/** Per-connection context shared by every flow of that connection. */
export interface FlowConnContext {
  target: RedirectTarget;
  source: Endpoint;
  destination: Endpoint;
  nodeName: string;
  proxyPort: number;
  /** INGRESS when the destination is a local endpoint (its ingress is enforced), else EGRESS. */
  direction: 'INGRESS' | 'EGRESS';
  /** The same facts as plain data, shared by reference by every flow record of the connection. */
  conn: HttpFlowConn;
}

/** What a flow says about one request. */
export interface FlowRequest {
  method: string;
  /** `http://<host><target>` as judged. */
  url: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  protocol: string;
}

export function connContext(target: RedirectTarget, describe: DescribeEndpoint, nodeName: string, proxyPort: number): FlowConnContext {
  const source = describe(target.source.endpoint, target.source.ip);
  const destination = describe(target.destination.endpoint, target.destination.ip);
  const direction = target.destination.endpoint === null ? 'EGRESS' : 'INGRESS';
  const { source: s, destination: d } = target;
  return {
    target,
    source,
    destination,
    nodeName,
    proxyPort,
    direction,
    conn: { srcIp: s.ip, srcPort: s.port, dstIp: d.ip, dstPort: d.port, source, destination, nodeName, proxyPort, direction },
  };
}

/*
 * Flows are described as HttpFlowRecords and built by observe's `buildHttpFlow` (one object
 * literal, fixed field order, no spreads; same fields and defaults as `newFlow`). Emitting the
 * record along with the flow (`emitHttpFlow`) lets sinks with a fast path (the store) hand the
 * compact record to their thread instead of serializing the flow.
 */
function record(ctx: FlowConnContext, kind: 0 | 1 | 2, req: FlowRequest): HttpFlowRecord {
  return {
    conn: ctx.conn,
    kind,
    time: nowFlowTime(),
    uuid: randomUUID(),
    method: req.method,
    url: req.url,
    protocol: req.protocol,
    outcome: null,
    code: 0,
    latencyNs: 0,
    verdict: 'FORWARDED',
    reason: '',
    authFailed: false,
  };
}

/** REQUEST flow record: FORWARDED or DROPPED (policy denial) with the deciding policy. */
export function requestRecord(ctx: FlowConnContext, req: FlowRequest, verdict: PolicyVerdict): HttpFlowRecord {
  const r = record(ctx, 0, req);
  r.outcome = outcomeFromVerdict(verdict, { authFailed: isAuthDenial(verdict) });
  return r;
}

/** REQUEST flow record for a request the hardened parser rejected (answered 4xx/5xx, never forwarded). */
export function malformedRecord(ctx: FlowConnContext, req: FlowRequest, status: number, reason: string): HttpFlowRecord {
  const r = record(ctx, 1, req);
  r.code = status;
  r.reason = reason;
  return r;
}

/**
 * RESPONSE flow record. `error` set: the proxy answered itself (403 denial, 4xx parse error, 5xx
 * upstream failure); verdict is DROPPED for a denial, ERROR for upstream failures, else FORWARDED.
 */
export function responseRecord(
  ctx: FlowConnContext,
  req: FlowRequest,
  code: number,
  latencyNs: number,
  outcome: { verdict: 'FORWARDED' } | { verdict: 'DROPPED' | 'ERROR'; reason: string; authFailed?: boolean },
): HttpFlowRecord {
  const r = record(ctx, 2, req);
  r.code = code;
  r.latencyNs = latencyNs;
  r.verdict = outcome.verdict;
  if (outcome.verdict !== 'FORWARDED') {
    r.reason = outcome.reason;
    r.authFailed = outcome.authFailed === true;
  }
  return r;
}

/** Builds the record's flow and emits it (with the record, to sinks that take one). */
export function emitHttpFlow(sink: FlowSink, rec: HttpFlowRecord): void {
  const flow = buildHttpFlow(rec);
  if (sink.emitHttp !== undefined) sink.emitHttp(flow, rec);
  else sink.emit(flow);
}

/** REQUEST flow: FORWARDED or DROPPED (policy denial) with the deciding policy. */
export function requestFlow(ctx: FlowConnContext, req: FlowRequest, verdict: PolicyVerdict): Flow {
  return buildHttpFlow(requestRecord(ctx, req, verdict));
}

/** REQUEST flow for a request the hardened parser rejected (answered 4xx/5xx, never forwarded). */
export function malformedFlow(ctx: FlowConnContext, req: FlowRequest, status: number, reason: string): Flow {
  return buildHttpFlow(malformedRecord(ctx, req, status, reason));
}

/** RESPONSE flow (see responseRecord). */
export function responseFlow(
  ctx: FlowConnContext,
  req: FlowRequest,
  code: number,
  latencyNs: number,
  outcome: { verdict: 'FORWARDED' } | { verdict: 'DROPPED' | 'ERROR'; reason: string; authFailed?: boolean },
): Flow {
  return buildHttpFlow(responseRecord(ctx, req, code, latencyNs, outcome));
}

/** True when building flows is worth it. */
export function isSinkEnabled(sink: FlowSink): boolean {
  return sink.enabled !== false;
}
