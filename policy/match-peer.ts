/**
 * Does a rule entry select this peer (policy-semantics §2-§5, §10.3)? Selector results are cached
 * per (selector, identity): the selector cache.
 */
import { cidrContainsIp } from './cidr.js';
import type { PeerMatcher, RuleEntry, PortRule } from './model.js';
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

export function peerMatches(pm: PeerMatcher, peer: Peer, cache: SelectorCache): boolean {
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
  }
}

/**
 * The parts of `entry` covering (proto, port): `[null]` for an L3-only or ICMP match, the
 * matching toPorts entries otherwise, `[]` when it does not cover.
 */
export function coveringPorts(entry: RuleEntry, proto: string, port: number): (PortRule | null)[] {
  if (entry.icmps) {
    // For ICMP the case's port is the ICMP type; ICMP_ANY_TYPE (type not given) matches any icmps field.
    return proto === 'ICMP' && (port === ICMP_ANY_TYPE || entry.icmps.some((f) => f.type === port)) ? [null] : [];
  }
  if (!entry.ports) return [null];
  if (proto === 'ICMP') return [];
  return entry.ports.filter((pr) => pr.ports.some((e) => portCovers(e, proto, port)));
}
