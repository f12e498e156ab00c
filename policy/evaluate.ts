/**
 * One side of a connection (source egress or destination ingress), per the reference algorithm
 * of policy-semantics §15: not enforced / local host (§4.5) / deny (§11) / default deny (§4.2) /
 * allow set A with L7 union (§7) / authentication (§13).
 *
 * `planSide` computes everything that does not depend on an L7 payload (memoized by the engine);
 * `judgeSide` applies a payload to a plan and is cheap.
 */
import type { DnsRequestFacts, HttpRequestFacts, KafkaRequestFacts, L7Kind } from './api.js';
import { coveringPorts, ICMP_ANY_TYPE, peerMatches, type NamedPortContext, type SelectorCache } from './match-peer.js';
import type { Endpoint, World } from './world.js';
import { dnsMatch, firstHttpMatch, kafkaMatch } from './match-l7.js';
import type { DnsRule, HttpRule, KafkaRule, PortRule, Rule, RuleEntry } from './model.js';
import type { Peer } from './peers.js';

export type Direction = 'ingress' | 'egress';

export type Payload =
  | { kind: 'http'; req: HttpRequestFacts; text: string }
  | { kind: 'kafka'; req: KafkaRequestFacts; text: string }
  | { kind: 'dns'; req: DnsRequestFacts; text: string };

export interface SideOutcome {
  enforced: boolean;
  allowed: boolean;
  /** The allow rule requiring authentication; `denied` when the denial is that requirement's. */
  auth?: { policy: string; rule: string; denied: boolean };
  policy?: string;
  rule?: string;
  reason: string;
}

interface Owned<T> {
  policy: string;
  rule: T;
}

export interface SidePlan extends SideOutcome {
  authRequired: boolean;
  /** The L7 parser on this side (the connection is redirected), or null. */
  l7: L7Kind | null;
  /** Set when every allow covering (peer, port) carries L7 rules of one kind: payloads are judged. */
  restrict:
    | { kind: 'http'; rules: Owned<HttpRule>[] }
    | { kind: 'kafka'; rules: Owned<KafkaRule>[] }
    | { kind: 'dns'; rules: Owned<DnsRule>[] }
    | null;
}

interface AItem {
  rule: Rule;
  entry: RuleEntry;
  port: PortRule | null;
}

const NOT_ENFORCED = (dir: Direction, subject: string): SidePlan => ({
  enforced: false,
  allowed: true,
  reason: `${dir} of ${subject} is not enforced (no policy selects it for ${dir})`,
  authRequired: false,
  l7: null,
  restrict: null,
});

/** `rules` = rules selecting the subject with a non-empty section for `dir`. */
export function planSide(
  rules: readonly Rule[],
  dir: Direction,
  subject: string,
  peer: Peer,
  proto: string,
  port: number,
  cache: SelectorCache,
  state?: { world: World; subject: Endpoint },
): SidePlan {
  if (rules.length === 0) return NOT_ENFORCED(dir, subject);
  const world = state?.world;
  const named: NamedPortContext | undefined = state ? { dir, subject: state.subject, world: state.world } : undefined;
  const what = proto === 'ICMP' ? (port === ICMP_ANY_TYPE ? 'ICMP (any type)' : `ICMP type ${port}`) : `${proto}/${port}`;
  const peerWord = dir === 'ingress' ? `from ${peer.display}` : `to ${peer.display}`;
  for (const r of rules) {
    for (const e of r[dir].deny) {
      if (peerMatches(e.peers, peer, cache, world) && coveringPorts(e, proto, port, named).length > 0) {
        return {
          enforced: true,
          allowed: false,
          policy: r.policy,
          rule: e.path,
          reason: `${dir} ${peerWord} on ${what} denied by deny rule ${e.path} of ${r.policy}`,
          authRequired: false,
          l7: null,
          restrict: null,
        };
      }
    }
  }
  if (dir === 'ingress' && peer.labels.has('reserved', 'host')) {
    return {
      enforced: true,
      allowed: true,
      reason: `ingress from the local host is always allowed (allow-localhost, kubelet probes)`,
      authRequired: false,
      l7: portParser(rules, dir, proto, port, named),
      restrict: null,
    };
  }
  const A: AItem[] = [];
  for (const r of rules) {
    for (const e of r[dir].allow) {
      if (!peerMatches(e.peers, peer, cache, world)) continue;
      for (const p of coveringPorts(e, proto, port, named)) A.push({ rule: r, entry: e, port: p });
    }
  }
  const defaultDeny = rules.some((r) => r[dir].defaultDeny);
  const auth = A.filter((i) => i.entry.auth === 'required' || i.entry.auth === 'test-always-fail');
  const authRequired = auth.length > 0;
  const l7Items = A.filter((i) => i.port?.l7);
  const l7: L7Kind | null = l7Items[0]?.port?.l7?.kind ?? portParser(rules, dir, proto, port, named);
  if (!defaultDeny) {
    return withAuth({
      enforced: true,
      allowed: true,
      reason: `${dir} ${peerWord} on ${what} allowed: the policies selecting ${subject} set enableDefaultDeny.${dir}: false`,
      authRequired,
      l7,
      restrict: null,
    }, auth, peer, dir);
  }
  if (A.length === 0) {
    const names = [...new Set(rules.map((r) => r.policy))].join(', ');
    return {
      enforced: true,
      allowed: false,
      reason: `no rule allows ${dir} ${peerWord} on ${what}; ${subject} is in ${dir} default deny (selected by ${names})`,
      authRequired: false,
      l7: null,
      restrict: null,
    };
  }
  const open = A.find((i) => !i.port?.l7);
  const deciding = open ?? A[0];
  const plan: SidePlan = {
    enforced: true,
    allowed: true,
    policy: deciding.rule.policy,
    rule: deciding.port?.path ?? deciding.entry.path,
    reason: `${dir} ${peerWord} on ${what} allowed by ${deciding.rule.policy} ${deciding.port?.path ?? deciding.entry.path}`,
    authRequired,
    l7,
    restrict: open ? null : restrictOf(l7Items),
  };
  return withAuth(plan, auth, peer, dir);
}

/**
 * The L7 parser of (subject, direction, proto, port) whichever peer an L7 rule names: "traffic
 * that is allowed at L4 for a port with L7 rules is always redirected to the proxy" (§7.8), and
 * the contract's `l7` is "the parser ... when the connection is allowed at L3/L4 on a port with L7
 * rules". Whether a request is judged still depends on the entries covering this peer (§15).
 */
function portParser(rules: readonly Rule[], dir: Direction, proto: string, port: number, named?: NamedPortContext): L7Kind | null {
  for (const r of rules) {
    for (const e of r[dir].allow) {
      for (const p of coveringPorts(e, proto, port, named)) if (p?.l7) return p.l7.kind;
    }
  }
  return null;
}

function restrictOf(items: AItem[]): SidePlan['restrict'] {
  const kind = items[0]?.port?.l7?.kind;
  if (!kind || items.some((i) => i.port?.l7?.kind !== kind)) return null;
  const rules: Owned<never>[] = [];
  for (const i of items) for (const rule of i.port!.l7!.rules) rules.push({ policy: i.rule.policy, rule: rule as never });
  return { kind, rules } as SidePlan['restrict'];
}

function withAuth(plan: SidePlan, auth: AItem[], peer: Peer, dir: Direction): SidePlan {
  if (!plan.allowed || auth.length === 0) return plan;
  const failing = auth.find((i) => i.entry.auth === 'test-always-fail');
  if (failing) {
    const auth = { policy: failing.rule.policy, rule: failing.entry.path, denied: true };
    return { ...plan, allowed: false, auth, policy: failing.rule.policy, rule: failing.entry.path, reason: `authentication mode test-always-fail on ${failing.rule.policy} ${failing.entry.path} always fails`, restrict: null };
  }
  if (peer.kind !== 'endpoint') {
    const a = auth[0];
    return {
      ...plan,
      allowed: false,
      auth: { policy: a.rule.policy, rule: a.entry.path, denied: true },
      policy: a.rule.policy,
      rule: a.entry.path,
      reason: `${a.rule.policy} ${a.entry.path} requires mutual authentication, which ${peer.display} (not a Cilium-managed pod) can never complete on ${dir}`,
      restrict: null,
    };
  }
  return { ...plan, auth: { policy: auth[0].rule.policy, rule: auth[0].entry.path, denied: false } };
}

/** Applies an L7 payload to a plan. */
export function judgeSide(plan: SidePlan, payload: Payload | null): SideOutcome {
  if (!plan.allowed || !payload || !plan.restrict || plan.restrict.kind !== payload.kind) return plan;
  let hit: Owned<HttpRule | KafkaRule | DnsRule> | null = null;
  if (payload.kind === 'http' && plan.restrict.kind === 'http') {
    const r = firstHttpMatch(plan.restrict.rules.map((o) => o.rule), payload.req);
    hit = r ? plan.restrict.rules.find((o) => o.rule === r)! : null;
  } else if (payload.kind === 'kafka' && plan.restrict.kind === 'kafka') {
    const r = kafkaMatch(plan.restrict.rules.map((o) => o.rule), payload.req);
    hit = r ? plan.restrict.rules.find((o) => o.rule === r)! : null;
  } else if (payload.kind === 'dns' && plan.restrict.kind === 'dns') {
    const r = dnsMatch(plan.restrict.rules.map((o) => o.rule), payload.req);
    hit = r ? plan.restrict.rules.find((o) => o.rule === r)! : null;
  }
  if (hit) {
    return { enforced: true, allowed: true, policy: hit.policy, rule: hit.rule.path_, reason: `${payload.kind} ${payload.text} allowed by ${hit.policy} ${hit.rule.path_}` };
  }
  const owners = [...new Set(plan.restrict.rules.map((o) => o.policy))].join(', ');
  return {
    enforced: true,
    allowed: false,
    policy: plan.restrict.rules[0]?.policy,
    rule: undefined,
    reason: `${payload.kind} ${payload.text} matches no ${payload.kind} rule of ${owners} on this port (add an L7 rule for it)`,
  };
}
