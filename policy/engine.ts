/**
 * The resolved policy engine: an immutable snapshot of (policies, world). Per identity and
 * direction it keeps the rules that select it (resolved once, at creation); per
 * (subject identity, direction, peer identity, protocol, port) a memoized plan, so repeated
 * lookups are one Map hit. `withPolicies` / `withEndpoints` build a new snapshot reusing what a
 * change does not touch; callers swap the reference atomically (readers never see half a change).
 */
import type { ConnectionPolicy, ConnectionQuery, DnsRequestFacts, HttpRequestFacts, KafkaRequestFacts, PeerRef, PolicyEngine, Verdict, AuthRequirement } from './api.js';
import { TendrilError } from '../core/index.js';
import { SelectorCache } from './match-peer.js';
import type { PolicySet, Rule } from './model.js';
import { judgeSide, planSide, type Direction, type Payload, type SideOutcome, type SidePlan } from './evaluate.js';
import { endpointPeer, resolvePeer, type Peer } from './peers.js';
import { matchesSelector } from './selector.js';
import { worldWithFqdns, type Endpoint, type World } from './world.js';
import { checkL7Conflicts } from './conflicts.js';
import { serviceBackend } from './services.js';

export interface SubjectRules {
  ingress: Rule[];
  egress: Rule[];
}

export interface EngineOptions {
  policies: PolicySet;
  world: World;
}

const MEMO_LIMIT = 1_000_000;
const PROTO_INDEX: Record<string, number> = { TCP: 0, UDP: 1, SCTP: 2, ICMP: 3 };

export class Engine implements PolicyEngine {
  readonly policies: PolicySet;
  readonly world: World;
  /** identity id -> rules selecting it, per direction. */
  readonly subjects: Map<string, SubjectRules>;
  private readonly cache: SelectorCache;
  /** (subject identity, direction) -> (peer identity, protocol, port) -> plan. */
  private memo = new Map<number, Map<number, SidePlan>>();
  private memoSize = 0;
  /** Identity keys interned to small integers, so a memo key is one exact double. */
  private readonly ids: Map<string, number>;
  /** The world before names learned by the DNS proxy were added (see withLearnedFqdns). */
  private readonly baseWorld: World;

  constructor(
    opts: EngineOptions,
    reuse?: { subjects: Map<string, SubjectRules>; cache: SelectorCache; ids: Map<string, number>; check: readonly Endpoint[]; baseWorld?: World },
  ) {
    this.policies = opts.policies;
    this.world = opts.world;
    this.baseWorld = reuse?.baseWorld ?? opts.world;
    this.cache = reuse?.cache ?? new SelectorCache();
    this.ids = reuse?.ids ?? new Map();
    this.subjects = reuse?.subjects ?? resolveSubjects(opts.policies.rules, opts.world.endpoints);
    checkL7Conflicts(this.subjects, reuse?.check ?? opts.world.endpoints);
  }

  private intern(key: string): number {
    let n = this.ids.get(key);
    if (n === undefined) {
      n = this.ids.size;
      this.ids.set(key, n);
    }
    return n;
  }

  rulesFor(ep: Endpoint): SubjectRules {
    return this.subjects.get(ep.identity.id) ?? { ingress: [], egress: [] };
  }

  /** The payload-independent plan of one side, memoized. */
  plan(subject: Endpoint, dir: Direction, peer: Peer, proto: string, port: number): SidePlan {
    // Ingress named ports resolve per pod (cluster-state-selectors N3): its ports are part of the key.
    const outerKey = this.intern(subject.ports?.size ? `${subject.identity.id}|${portsKey(subject)}` : subject.identity.id) * 2 + (dir === 'ingress' ? 1 : 0);
    const innerKey = (this.intern(peer.key) * 4 + (PROTO_INDEX[proto] ?? 0)) * 65_537 + port;
    let inner = this.memo.get(outerKey);
    if (!inner) {
      inner = new Map();
      this.memo.set(outerKey, inner);
    }
    let p = inner.get(innerKey);
    if (!p) {
      p = planSide(this.rulesFor(subject)[dir], dir, subject.id, peer, proto, port, this.cache, { world: this.world, subject });
      if (++this.memoSize > MEMO_LIMIT) {
        this.memo = new Map([[outerKey, inner]]);
        inner.clear();
        this.memoSize = 1;
      }
      inner.set(innerKey, p);
    }
    return p;
  }

  resolve(ref: PeerRef): Peer {
    const p = resolvePeer(this.world, ref);
    if (typeof p === 'string') throw new TendrilError('TND_CASES_INVALID', p, { peer: ref });
    return p;
  }

  /** Evaluates a whole connection (both sides), optionally with one L7 payload. */
  evaluate(from: Peer, to: Peer, port: number, proto: string, payload: Payload | null): Verdict {
    const eg = from.endpoint ? this.plan(from.endpoint, 'egress', to, proto, port) : null;
    const ing = to.endpoint ? this.plan(to.endpoint, 'ingress', from, proto, port) : null;
    return combine(eg, ing, payload);
  }

  connection(q: ConnectionQuery): ConnectionPolicy {
    const from = this.resolve(q.from);
    if ('service' in q.to) {
      const b = serviceBackend(this.world, q.to.service, q.port, q.protocol);
      if (typeof b === 'string') throw new TendrilError('TND_CASES_INVALID', b, { peer: q.to });
      q = { ...q, to: b.peer.endpoint ? { endpoint: b.peer.endpoint.id } : { ip: b.peer.ipText ?? '' }, port: b.port };
    }
    const to = this.resolve(q.to);
    const eg = from.endpoint ? this.plan(from.endpoint, 'egress', to, q.protocol, q.port) : null;
    const ing = to.endpoint ? this.plan(to.endpoint, 'ingress', from, q.protocol, q.port) : null;
    const verdict = combine(eg, ing, null);
    const judge = (payload: Payload): Verdict => combine(eg, ing, payload);
    return {
      verdict,
      judgeHttp: (req: HttpRequestFacts) => judge({ kind: 'http', req, text: `${req.method} ${req.path}` }),
      judgeKafka: (req: KafkaRequestFacts) => judge({ kind: 'kafka', req, text: `apiKey ${req.apiKey} topics [${req.topics.join(', ')}]` }),
      judgeDns: (req: DnsRequestFacts) => judge({ kind: 'dns', req, text: `query ${req.query}` }),
    };
  }

  endpointByIp(ip: string): string | null {
    return this.world.byIp.get(ip)?.id ?? null;
  }

  /** A new snapshot with `rules` replaced; only identities a changed rule selects are recomputed. */
  withPolicies(policies: PolicySet): Engine {
    const before = new Set(this.policies.rules);
    const after = new Set(policies.rules);
    const changed = [...this.policies.rules.filter((r) => !after.has(r)), ...policies.rules.filter((r) => !before.has(r))];
    const subjects = new Map(this.subjects);
    const touched = new Set<string>();
    for (const ep of this.world.endpoints) {
      if (touched.has(ep.identity.id)) continue;
      if (changed.some((r) => selects(r, ep))) touched.add(ep.identity.id);
    }
    for (const id of touched) subjects.delete(id);
    const rep = new Map<string, Endpoint>();
    for (const ep of this.world.endpoints) if (touched.has(ep.identity.id)) rep.set(ep.identity.id, ep);
    for (const [id, sr] of resolveSubjects(policies.rules, [...rep.values()])) subjects.set(id, sr);
    return new Engine({ policies, world: this.world }, { subjects, cache: this.cache, ids: this.ids, check: [...rep.values()], baseWorld: this.baseWorld });
  }

  /**
   * A new snapshot whose `world.fqdns` is the world file's names plus `learned` (normalized name
   * -> IPs, the DNS proxy's FQDN cache, §10.3). Rule resolution is reused as is: only toFQDNs
   * matching, which reads the names of a destination IP, sees the change.
   */
  withLearnedFqdns(learned: ReadonlyMap<string, readonly string[]>): Engine {
    const world = worldWithFqdns(this.baseWorld, learned);
    return new Engine({ policies: this.policies, world }, { subjects: this.subjects, cache: this.cache, ids: this.ids, check: [], baseWorld: this.baseWorld });
  }

  /** A new snapshot for a changed world (endpoints added/removed); known identities are reused. */
  withWorld(world: World): Engine {
    const subjects = new Map<string, SubjectRules>();
    const fresh: Endpoint[] = [];
    for (const ep of world.endpoints) {
      const known = this.subjects.get(ep.identity.id);
      if (known) subjects.set(ep.identity.id, known);
      else fresh.push(ep);
    }
    for (const [id, sr] of resolveSubjects(this.policies.rules, fresh)) subjects.set(id, sr);
    return new Engine({ policies: this.policies, world }, { subjects, cache: this.cache, ids: this.ids, check: fresh });
  }
}

const portsKeys = new WeakMap<Endpoint, string>();
function portsKey(ep: Endpoint): string {
  let k = portsKeys.get(ep);
  if (k === undefined) {
    k = [...(ep.ports ?? [])].map(([n, p]) => `${n}=${p.port}/${p.protocol}`).sort().join(',');
    portsKeys.set(ep, k);
  }
  return k;
}

function selects(r: Rule, ep: Endpoint): boolean {
  if (!r.subject) return false;
  if (r.namespace !== null && r.namespace !== ep.namespace) return false;
  return matchesSelector(r.subject, ep.identity);
}

/** Resolution: for every distinct identity, the rules selecting it per direction. */
export function resolveSubjects(rules: readonly Rule[], endpoints: readonly Endpoint[]): Map<string, SubjectRules> {
  const byNs = new Map<string, Endpoint[]>();
  const ids = new Map<string, Endpoint>();
  for (const ep of endpoints) {
    if (ids.has(ep.identity.id)) continue;
    ids.set(ep.identity.id, ep);
    const list = byNs.get(ep.namespace);
    if (list) list.push(ep);
    else byNs.set(ep.namespace, [ep]);
  }
  const out = new Map<string, SubjectRules>();
  for (const id of ids.keys()) out.set(id, { ingress: [], egress: [] });
  for (const r of rules) {
    if (!r.subject || (!r.ingress.enforced && !r.egress.enforced)) continue;
    const candidates = r.namespace !== null ? (byNs.get(r.namespace) ?? []) : ids.values();
    for (const ep of candidates) {
      if (!matchesSelector(r.subject, ep.identity)) continue;
      const sr = out.get(ep.identity.id)!;
      if (r.ingress.enforced) sr.ingress.push(r);
      if (r.egress.enforced) sr.egress.push(r);
    }
  }
  return out;
}

const NO_SIDE = {};
/** L3/L4 verdicts (no payload) per (egress plan, ingress plan): plans are memoized, so are these. */
const combined = new WeakMap<object, WeakMap<object, Verdict>>();

function combine(eg: SidePlan | null, ing: SidePlan | null, payload: Payload | null): Verdict {
  if (payload) return combineNow(eg, ing, payload);
  const a = eg ?? NO_SIDE;
  const b = ing ?? NO_SIDE;
  let inner = combined.get(a);
  if (!inner) {
    inner = new WeakMap();
    combined.set(a, inner);
  }
  let v = inner.get(b);
  if (!v) {
    v = Object.freeze(combineNow(eg, ing, null));
    inner.set(b, v);
  }
  return v;
}

function combineNow(eg: SidePlan | null, ing: SidePlan | null, payload: Payload | null): Verdict {
  const e: SideOutcome | null = eg ? judgeSide(eg, payload) : null;
  const i: SideOutcome | null = ing ? judgeSide(ing, payload) : null;
  const l4Allowed = (eg?.allowed ?? true) && (ing?.allowed ?? true);
  const allowed = (e?.allowed ?? true) && (i?.allowed ?? true);
  const l7 = l4Allowed ? (eg?.l7 ?? ing?.l7 ?? null) : null;
  const authRequired = (eg?.authRequired ?? false) || (ing?.authRequired ?? false);
  const denier = e && !e.allowed ? e : i && !i.allowed ? i : null;
  const decider = denier ?? (i?.enforced ? i : e?.enforced ? e : null);
  let reason: string;
  if (denier) reason = denier.reason;
  else {
    const parts = [e, i].filter((s): s is SideOutcome => s !== null).map((s) => s.reason);
    reason = parts.length > 0 ? parts.join('; ') : 'neither side is a Cilium endpoint: nothing enforces policy';
  }
  const v: Verdict = {
    allowed,
    authRequired,
    l7,
    egress: e ? side(e) : undefined,
    ingress: i ? side(i) : undefined,
    policy: decider?.policy,
    rule: decider?.rule,
    reason,
  };
  const auth = authOf(eg, ing, denier === e ? 'egress' : 'ingress', denier);
  if (auth) v.auth = auth;
  return v;
}

/** The authentication requirement: the denying side's when it denied for it, else the first side's. */
function authOf(eg: SidePlan | null, ing: SidePlan | null, denierSide: 'egress' | 'ingress', denier: SideOutcome | null): AuthRequirement | undefined {
  if (denier) return denier.auth?.denied ? { ...denier.auth, side: denierSide } : undefined;
  if (eg?.auth) return { ...eg.auth, side: 'egress' };
  if (ing?.auth) return { ...ing.auth, side: 'ingress' };
  return undefined;
}

function side(s: SideOutcome): { verdict: 'allowed' | 'denied'; policy?: string; rule?: string; enforced: boolean } {
  // Contract keys first, in contract order (verdict, policy, rule); `enforced` is our addition.
  return {
    verdict: s.allowed ? 'allowed' : 'denied',
    ...(s.policy !== undefined ? { policy: s.policy } : {}),
    ...(s.rule !== undefined ? { rule: s.rule } : {}),
    enforced: s.enforced,
  };
}

export function createEngine(opts: EngineOptions): Engine {
  return new Engine(opts);
}

export { endpointPeer };
