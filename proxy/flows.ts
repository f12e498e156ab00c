/**
 * Flow records the HTTP proxy emits (Hubble field names, shared/spec/hubble-compat.md §2):
 * - a REQUEST flow per judged request: FORWARDED, or DROPPED with POLICY_DENIED and the deciding
 *   policy (`ingress_denied_by` / `egress_denied_by`) from the Verdict;
 * - a RESPONSE flow per answered request with `code` and `latency_ns` (is_reply=true, sides
 *   swapped as Hubble sends them); upstream failures are verdict ERROR with the reason in
 *   `policy_log`;
 * - a DROPPED request flow with INVALID_PACKET_DROPPED for requests the hardened parser rejected.
 * All construction lives here so the emitters stay one call each.
 */
import { randomUUID } from 'node:crypto';
import type { Endpoint, Flow, FlowSink, Layer4, Layer7, Verdict } from '../observe/index.js';
import { EVENT_TYPES, l7Summary, nowFlowTime, outcomeFromVerdict } from '../observe/index.js';
import type { Verdict as PolicyVerdict } from '../policy/api.js';
import type { RedirectPeer, RedirectTarget } from './redirect-source.js';

/** Turns `<namespace>/<pod>` (or null = world) into a flow Endpoint (labels, identity). */
export type DescribeEndpoint = (endpoint: string | null) => Endpoint;

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
  return {
    target,
    source: describe(target.source.endpoint),
    destination: describe(target.destination.endpoint),
    nodeName,
    proxyPort,
    direction: target.destination.endpoint === null ? 'EGRESS' : 'INGRESS',
  };
}

function l4(src: RedirectPeer, dst: RedirectPeer): Layer4 {
  return { TCP: { source_port: src.port, destination_port: dst.port } };
}

/**
 * Builds a complete Flow in one object literal (fixed field order, no spreads): the proxy emits
 * two flows per request, so this is on the hot path (about 1.5 us per flow instead of ~7 us
 * through generic spreading builders). Same fields and defaults as observe's `newFlow`.
 */
function make(ctx: FlowConnContext, reply: boolean, verdict: Verdict, l7: Layer7): Flow {
  const { source: s, destination: d } = ctx.target;
  const a = reply ? d : s;
  const b = reply ? s : d;
  return {
    time: nowFlowTime(),
    uuid: randomUUID(),
    verdict,
    IP: { source: a.ip, destination: b.ip, ipVersion: a.ip.includes(':') ? 'IPv6' : 'IPv4' },
    l4: l4(a, b),
    source: reply ? ctx.destination : ctx.source,
    destination: reply ? ctx.source : ctx.destination,
    Type: 'L7',
    node_name: ctx.nodeName,
    l7,
    is_reply: reply,
    event_type: { type: EVENT_TYPES.l7 },
    traffic_direction: ctx.direction,
    proxy_port: ctx.proxyPort,
    Summary: l7Summary(l7),
  };
}

/** REQUEST flow: FORWARDED or DROPPED (policy denial) with the deciding policy. */
export function requestFlow(ctx: FlowConnContext, req: FlowRequest, verdict: PolicyVerdict): Flow {
  const outcome = outcomeFromVerdict(verdict);
  const flow = make(ctx, false, outcome.verdict, { type: 'REQUEST', http: { code: 0, method: req.method, url: req.url, protocol: req.protocol } });
  return Object.assign(flow, outcome);
}

/** REQUEST flow for a request the hardened parser rejected (answered 4xx/5xx, never forwarded). */
export function malformedFlow(ctx: FlowConnContext, req: FlowRequest, status: number, reason: string): Flow {
  const flow = make(ctx, false, 'DROPPED', { type: 'REQUEST', http: { code: 0, method: req.method, url: req.url, protocol: req.protocol } });
  flow.drop_reason_desc = 'INVALID_PACKET_DROPPED';
  flow.policy_log = [`malformed request answered ${status}: ${reason}`];
  return flow;
}

/**
 * RESPONSE flow. `error` set: the proxy answered itself (403 denial, 4xx parse error, 5xx upstream
 * failure); verdict is DROPPED for a denial, ERROR for upstream failures, else FORWARDED.
 */
export function responseFlow(
  ctx: FlowConnContext,
  req: FlowRequest,
  code: number,
  latencyNs: number,
  outcome: { verdict: 'FORWARDED' } | { verdict: 'DROPPED' | 'ERROR'; reason: string },
): Flow {
  const flow = make(ctx, true, outcome.verdict, { type: 'RESPONSE', latency_ns: latencyNs, http: { code, method: req.method, url: req.url, protocol: req.protocol } });
  if (outcome.verdict !== 'FORWARDED') flow.policy_log = [outcome.reason];
  if (outcome.verdict === 'DROPPED') flow.drop_reason_desc = 'POLICY_DENIED';
  return flow;
}

/** True when building flows is worth it. */
export function isSinkEnabled(sink: FlowSink): boolean {
  return sink.enabled !== false;
}
