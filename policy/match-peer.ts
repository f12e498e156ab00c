/**
 * Does a rule entry select this peer (policy-semantics §2-§5, §10.3)? Selector results are cached
 * per (selector, identity): the selector cache.
 */
import { cidrContainsIp } from './cidr.js';
import type { PeerMatcher, PortEntry, RuleEntry, PortRule, ServiceRef } from './model.js';
import type { Endpoint, Service, World } from './world.js';
import type { Peer } from './peers.js';
import { matchesSelector, type Selector } from './selector.js';
import { portCovers } from './parse-ports.js';

/** A case with protocol ICMP and no type: matches every `icmps` rule. */
export const ICMP_ANY_TYPE = 65_536;

const CLUSTER_RESERVED = ['host', 'remote-node', 'kube-apiserver', 'health', 'init', 'ingress', 'unmanaged'];

export class SelectorCache {
  private readonly cache = new Map<string, Map<string, boolean>>();

  matches(sel: Selector, peer: Peer): boolean {
    let bySel = this.cache.get(sel.text);
    if (!bySel) {
      bySel = new Map();
      this.cache.set(sel.text, bySel);
    }
    const id = peer.labels.id;
    let hit = bySel.get(id);
    if (hit === undefined) {
      hit = matchesSelector(sel, peer.labels);
      bySel.set(id, hit);
    }
    return hit;
  }

  get size(): number {
    return this.cache.size;
  }
}

export function entityMatches(entity: string, peer: Peer): boolean {
  const l = peer.labels;
  switch (entity) {
    case 'all':
      return true;
    case 'none':
    case 'world-ipv4':
    case 'world-ipv6':
      return false; // single-stack model: world traffic carries plain reserved:world (§5.1)
    case 'cluster':
      return CLUSTER_RESERVED.some((r) => l.has('reserved', r)) || l.values('k8s', 'io.cilium.k8s.policy.cluster').length > 0;
    default:
      return l.has('reserved', entity);
  }
}

/**
 * `world` supplies the cluster state toServices resolves against (cluster-state-selectors §2);
 * without it (lint) a toServices entry selects nothing.
 */
export function peerMatches(pm: PeerMatcher, peer: Peer, cache: SelectorCache, world?: World): boolean {
  switch (pm.kind) {
    case 'none':
      return false;
    case 'any':
      return true;
    case 'selectors':
      return pm.selectors.some((s) => cache.matches(s, peer));
    case 'entities':
      return pm.entities.some((e) => entityMatches(e, peer));
    case 'cidrs': {
      // CIDR peers never match cluster endpoints or nodes (§5.2).
      if (!peer.labels.has('reserved', 'world')) return false;
      return pm.cidrs.some((c) => {
        if (c.cidr.bits === 0 && peer.ip === null) return true;
        if (!peer.ip || !cidrContainsIp(c.cidr, peer.ip)) return false;
        return !c.except.some((e) => cidrContainsIp(e, peer.ip!));
      });
    }
    case 'fqdns':
      if (!peer.labels.has('reserved', 'world')) return false;
      return peer.names.some((n) => pm.matchers.some((m) => m(n)));
    case 'nodes':
      // D4: the selector is ANDed with reserved:remote-node: never the local host, pods or world.
      if (peer.kind !== 'remote-node' || !peer.labels.has('reserved', 'remote-node')) return false;
      return pm.selectors.some((s) => cache.matches(s, peer));
    case 'services':
      return world ? pm.refs.some((r) => servicesOf(r, world).some((svc) => serviceSelects(svc, peer))) : false;
  }
}

/** The world's services a toServices element names (S2: an omitted namespace = any namespace). */
export function servicesOf(ref: ServiceRef, world: World): Service[] {
  const out: Service[] = [];
  for (const svc of world.services.values()) {
    if (ref.namespace !== null && ref.namespace !== svc.namespace) continue;
    if (ref.by === 'name' ? svc.name === ref.name : matchesSelector(ref.selector, svc.labelSet)) out.push(svc);
  }
  return out;
}

/**
 * S3: a service with a selector selects the pods of its namespace matching it, by identity;
 * S4: a selector-less one selects its backend addresses as /32 CIDRs, which never match pods or
 * nodes (§5.2).
 */
export function serviceSelects(svc: Service, peer: Peer): boolean {
  if (svc.selector) {
    const ep = peer.endpoint;
    if (!ep || ep.namespace !== svc.namespace) return false;
    return Object.entries(svc.selector).every(([k, v]) => ep.labels[k] === v);
  }
  if (!peer.labels.has('reserved', 'world') || peer.ipText === null) return false;
  return svc.endpoints.includes(peer.ipText);
}

/**
 * The parts of `entry` covering (proto, port): `[null]` for an L3-only or ICMP match, the
 * matching toPorts entries otherwise, `[]` when it does not cover.
 */
export function coveringPorts(entry: RuleEntry, proto: string, port: number, named?: NamedPortContext): (PortRule | null)[] {
  if (entry.icmps) {
    // For ICMP the case's port is the ICMP type; ICMP_ANY_TYPE (type not given) matches any icmps field.
    return proto === 'ICMP' && (port === ICMP_ANY_TYPE || entry.icmps.some((f) => f.type === port)) ? [null] : [];
  }
  if (!entry.ports) return [null];
  if (proto === 'ICMP') return [];
  return entry.ports.filter((pr) => pr.ports.some((e) => (e.name !== undefined && e.port === null ? namedCovers(e, proto, port, named) : portCovers(e, proto, port))));
}

/** What a named port resolves against (cluster-state-selectors §1). */
export interface NamedPortContext {
  dir: 'ingress' | 'egress';
  /** The endpoint the policy selects (its own ports resolve ingress names, N3). */
  subject: Endpoint;
  /** Every endpoint's named ports resolve egress names (N4). */
  world: World;
}

/** N3-N6, N8: the entry's number for this protocol, else nothing matches (allow and deny). */
export function resolveNamedPort(name: string, proto: string, ctx: NamedPortContext): number | null {
  if (ctx.dir === 'ingress') {
    const cp = ctx.subject.ports?.get(name);
    return cp && cp.protocol === proto ? cp.port : null;
  }
  const nums = ctx.world.clusterNamedPorts.get(name)?.get(proto);
  if (!nums || nums.size !== 1) return null; // none, or ErrDuplicateNamedPorts
  return nums.values().next().value as number;
}

function namedCovers(e: PortEntry, proto: string, port: number, ctx: NamedPortContext | undefined): boolean {
  if (!ctx || e.proto === 'NONE') return false;
  if (proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP') return false;
  if (e.proto !== 'ANY' && e.proto !== proto) return false; // N5: ANY = TCP, UDP, SCTP each resolved
  const n = resolveNamedPort(e.name!, proto, ctx);
  if (n === null) return false;
  return port >= n && port <= Math.max(n, e.endPort);
}
