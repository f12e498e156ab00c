/**
 * Builders for Flow records: fill the fields every flow carries (time, uuid, node_name, Type,
 * event_type, Summary) so emitters only state what they observed, plus helpers turning a policy
 * Verdict into the flow's outcome fields (every DROPPED flow names its deciding policy).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Verdict as PolicyVerdict, SideVerdict } from '../policy/api.js';
import type { Verdict } from './enums.js';
import { EVENT_TYPES } from './enums.js';
import type { Flow, Policy } from './flow.js';
import { summarize } from './summary.js';

// Shared, frozen defaults: fewer objects per retained flow means cheaper garbage collection.
const L7_EVENT = Object.freeze({ type: EVENT_TYPES.l7 });
const POLICY_DROP_EVENT = Object.freeze({ type: EVENT_TYPES.drop, sub_type: 133 });
const TRACE_EVENT = Object.freeze({ type: EVENT_TYPES.trace, sub_type: 0 });

/** Everything of a Flow an emitter may set; the rest is filled by `newFlow`. */
export type FlowInit = Partial<Flow> & Pick<Flow, 'verdict'>;

/**
 * Formats epoch nanoseconds as RFC 3339 UTC with 9 fractional digits, the way Go's protojson
 * prints a Timestamp with nanos.
 */
export function formatFlowTime(epochNs: bigint): string {
  if (epochNs >= 0n && epochNs < 9_000_000_000_000_000_000n) {
    const sec = epochNs / 1_000_000_000n;
    return formatFlowTimeParts(Number(sec), Number(epochNs - sec * 1_000_000_000n));
  }
  const ms = Number(epochNs / 1_000_000n);
  const iso = new Date(ms).toISOString(); // 2026-11-26T10:00:00.123Z
  const nanos = (epochNs % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${nanos}Z`;
}

let fmtSec = Number.NaN;
let fmtPrefix = '';

/**
 * `formatFlowTime` of `sec` seconds + `nanos` (0..999,999,999) after the epoch, `sec` >= 0. The
 * `YYYY-MM-DDTHH:MM:SS` part of the last second formatted is cached: consecutive flows share it.
 */
export function formatFlowTimeParts(sec: number, nanos: number): string {
  if (sec !== fmtSec) {
    fmtPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
    fmtSec = sec;
  }
  const n = `${nanos}`;
  return `${fmtPrefix}.${n.length === 9 ? n : n.padStart(9, '0')}Z`;
}

/** Current time in epoch nanoseconds (microsecond resolution). */
export function nowNs(): bigint {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return BigInt(us) * 1000n;
}

/** `formatFlowTime(nowNs())` without BigInt arithmetic (the proxy's per-flow timestamp). */
export function nowFlowTime(): string {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const sec = Math.floor(us / 1_000_000);
  return formatFlowTimeParts(sec, (us - sec * 1_000_000) * 1000);
}

let lastPrefix = '';
let lastPrefixMs = 0;

/**
 * Parses a flow time (RFC 3339) into epoch nanoseconds; returns null on bad input. The seconds
 * part of the last call is cached: consecutive flows mostly share it.
 */
export function parseFlowTime(time: string): bigint | null {
  if (time.length > 20 && time.charCodeAt(19) === 46 /* . */ && time.endsWith('Z')) {
    const prefix = time.slice(0, 19);
    const frac = time.slice(20, -1);
    if (frac.length <= 9 && /^\d+$/.test(frac)) {
      let ms: number;
      if (prefix === lastPrefix) ms = lastPrefixMs;
      else {
        ms = Date.parse(`${prefix}Z`);
        if (Number.isNaN(ms)) return null;
        lastPrefix = prefix;
        lastPrefixMs = ms;
      }
      return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
    }
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return null;
  const secMs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secMs)) return null;
  const frac = (m[2] ?? '').padEnd(9, '0');
  return BigInt(secMs) * 1_000_000n + BigInt(frac);
}

/**
 * Builds a complete Flow. Defaults: time = now, uuid = random, node_name = '', Type = L7 when
 * `l7` is set else L3_L4, event_type = 129 for L7 else 4 (trace; 1 for a DROPPED L3/L4 flow),
 * traffic_direction = unknown, Summary per hubble-compat §3.3.
 */
export function newFlow(init: FlowInit): Flow {
  const isL7 = init.l7 !== undefined;
  // Every flow gets the same keys in the same order (absent = undefined, which JSON omits), so all
  // flows share one object shape and the readers' property loads stay monomorphic.
  return {
    time: init.time ?? formatFlowTime(nowNs()),
    uuid: init.uuid ?? randomUUID(),
    verdict: init.verdict,
    drop_reason_desc: init.drop_reason_desc,
    IP: init.IP,
    l4: init.l4,
    source: init.source,
    destination: init.destination,
    Type: init.Type ?? (isL7 ? 'L7' : 'L3_L4'),
    node_name: init.node_name ?? '',
    source_names: init.source_names,
    destination_names: init.destination_names,
    l7: init.l7,
    is_reply: init.is_reply,
    event_type: init.event_type ?? (isL7 ? L7_EVENT : init.verdict === 'DROPPED' ? POLICY_DROP_EVENT : TRACE_EVENT),
    source_service: init.source_service,
    destination_service: init.destination_service,
    traffic_direction: init.traffic_direction ?? 'TRAFFIC_DIRECTION_UNKNOWN',
    policy_match_type: init.policy_match_type,
    trace_observation_point: init.trace_observation_point,
    proxy_port: init.proxy_port,
    socket_cookie: init.socket_cookie,
    cgroup_id: init.cgroup_id,
    auth_type: init.auth_type,
    trace_context: init.trace_context,
    egress_allowed_by: init.egress_allowed_by,
    ingress_allowed_by: init.ingress_allowed_by,
    egress_denied_by: init.egress_denied_by,
    ingress_denied_by: init.ingress_denied_by,
    policy_log: init.policy_log,
    Summary: init.Summary ?? summarize(init),
  };
}

/** `namespace/name` (or `name` for cluster-wide) + rule -> flow.Policy. */
export function policyRef(policy: string, rule?: string, kind?: string): Policy {
  const slash = policy.indexOf('/');
  const p: Policy =
    slash >= 0 ? { name: policy.slice(slash + 1), namespace: policy.slice(0, slash) } : { name: policy };
  if (rule !== undefined) p.rule = rule;
  if (kind !== undefined) p.kind = kind;
  return p;
}

function sidePolicy(side: SideVerdict | undefined): Policy[] | undefined {
  if (!side || !side.policy) return undefined;
  return [policyRef(side.policy, side.rule)];
}

type Outcome = Partial<Flow> & { verdict: Verdict };

/**
 * Outcomes per Verdict object: the policy engine hands out the same Verdict for repeated
 * identical decisions, so their flows share one (frozen) set of outcome arrays and objects.
 */
const outcomes = new WeakMap<PolicyVerdict, { plain?: Outcome; authFailed?: Outcome }>();

/**
 * The outcome fields of a flow judged by policy: verdict FORWARDED/DROPPED, drop_reason_desc
 * POLICY_DENIED (AUTH_REQUIRED when only authentication failed), and the deciding policy in
 * `egress_*_by` / `ingress_*_by`, with the Verdict's reason in `policy_log`. A denial with no
 * deciding policy (default deny) is named `default-deny` so DROPPED flows always say why.
 * Results are cached per Verdict object and frozen: do not mutate them.
 */
export function outcomeFromVerdict(v: PolicyVerdict, opts: { authFailed?: boolean } = {}): Outcome {
  const slot = opts.authFailed ? 'authFailed' : 'plain';
  const cached = outcomes.get(v);
  const hit = cached?.[slot];
  if (hit !== undefined) return hit;
  // An engine that builds a new Verdict per request: reuse the outcome of an equal one (the last
  // one first: no key to build and hash).
  if (last !== undefined && last.slot === slot && sameVerdict(last.v, v)) return last.out;
  const key = contentKey(v, slot);
  let out = outcomesByContent.get(key);
  if (out === undefined) {
    out = deepFreeze(computeOutcome(v, opts));
    if (outcomesByContent.size >= MAX_CONTENT_OUTCOMES) outcomesByContent.clear();
    outcomesByContent.set(key, out);
    if (cached) cached[slot] = out;
    else outcomes.set(v, { [slot]: out });
  }
  last = { v, slot, out };
  return out;
}

let last: { v: PolicyVerdict; slot: string; out: Outcome } | undefined;

function sameSide(a: SideVerdict | undefined, b: SideVerdict | undefined): boolean {
  if (a === b) return true;
  return a !== undefined && b !== undefined && a.verdict === b.verdict && a.policy === b.policy && a.rule === b.rule;
}

/** Equal in every field computeOutcome reads. */
function sameVerdict(a: PolicyVerdict, b: PolicyVerdict): boolean {
  return (
    a.allowed === b.allowed &&
    a.authRequired === b.authRequired &&
    a.policy === b.policy &&
    a.rule === b.rule &&
    a.reason === b.reason &&
    sameSide(a.egress, b.egress) &&
    sameSide(a.ingress, b.ingress)
  );
}

/** Outcomes by the Verdict fields computeOutcome reads (bounded: cleared when full). */
const outcomesByContent = new Map<string, Outcome>();
const MAX_CONTENT_OUTCOMES = 4096;
const NONE = '\u0002';

function sideKey(s: SideVerdict | undefined): string {
  return s === undefined ? NONE : `${s.verdict}\u0003${s.policy ?? NONE}\u0003${s.rule ?? NONE}`;
}

function contentKey(v: PolicyVerdict, slot: string): string {
  return `${slot}\u0001${v.allowed}\u0001${v.authRequired}\u0001${v.policy ?? NONE}\u0001${v.rule ?? NONE}\u0001${sideKey(v.egress)}\u0001${sideKey(v.ingress)}\u0001${v.reason}`;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

function computeOutcome(v: PolicyVerdict, opts: { authFailed?: boolean }): Outcome {
  const out: Outcome = { verdict: v.allowed ? 'FORWARDED' : 'DROPPED', policy_log: [v.reason] };
  if (v.allowed) {
    const eg = sidePolicy(v.egress);
    const ing = sidePolicy(v.ingress);
    if (eg) out.egress_allowed_by = eg;
    if (ing) out.ingress_allowed_by = ing;
    if (v.authRequired) out.auth_type = 'SPIRE';
    return out;
  }
  out.drop_reason_desc = opts.authFailed ? 'AUTH_REQUIRED' : 'POLICY_DENIED';
  const deciding: Policy[] = v.policy ? [policyRef(v.policy, v.rule)] : [{ name: 'default-deny', rule: v.rule }];
  if (v.egress?.verdict === 'denied') out.egress_denied_by = sidePolicy(v.egress) ?? deciding;
  if (v.ingress?.verdict === 'denied' || !out.egress_denied_by) out.ingress_denied_by = sidePolicy(v.ingress) ?? deciding;
  return out;
}
