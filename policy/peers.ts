/**
 * Resolves a peer reference (`ns/pod`, `{ip}`, `{fqdn}`, `{entity}`) to what policy sees: its
 * identity labels (policy-semantics §2.3), its IP and the FQDN names mapped to that IP (§10.3).
 */
import { parseIp } from './cidr.js';
import { normalizeName } from './fqdn.js';
import { nodeIdentityLabels, reservedLabels, type LabelSet } from './labels.js';
import type { Endpoint, World } from './world.js';
import type { PeerRef } from './api.js';

export type PeerKind = 'endpoint' | 'host' | 'remote-node' | 'kube-apiserver' | 'world';

export interface Peer {
  kind: PeerKind;
  labels: LabelSet;
  ip: { family: 4 | 6; value: bigint } | null;
  ipText: string | null;
  endpoint: Endpoint | null;
  /** Normalized FQDN names the DNS proxy mapped to this IP. */
  names: readonly string[];
  /** For messages: `payments/pay-0`, `world 8.8.8.8`, `host 10.0.0.100`. */
  display: string;
  /** Identity key for memoization: labels plus the address when CIDR/FQDN matching may depend on it. */
  key: string;
}

const HOST = reservedLabels(['host']);
const REMOTE = reservedLabels(['remote-node']);
const WORLD = reservedLabels(['world']);

const endpointPeers = new WeakMap<Endpoint, Peer>();

/** The peer view of an endpoint (cached per endpoint object: endpoints are immutable). */
export function endpointPeer(ep: Endpoint): Peer {
  let p = endpointPeers.get(ep);
  if (!p) {
    p = Object.freeze(makeEndpointPeer(ep));
    endpointPeers.set(ep, p);
  }
  return p;
}

function makeEndpointPeer(ep: Endpoint): Peer {
  return {
    kind: 'endpoint',
    labels: ep.identity,
    ip: ep.ips[0] ? parseIp(ep.ips[0]) : null,
    ipText: ep.ips[0] ?? null,
    endpoint: ep,
    names: [],
    display: ep.id,
    key: ep.identity.id,
  };
}

const ipPeers = new WeakMap<World, Map<string, Peer>>();
const IP_CACHE_LIMIT = 100_000;

/** Classifies an address: endpoint, node, kube-apiserver or world (with FQDN names). Cached per world. */
export function peerByIp(world: World, ipText: string): Peer | null {
  let cache = ipPeers.get(world);
  if (!cache) {
    cache = new Map();
    ipPeers.set(world, cache);
  }
  const hit = cache.get(ipText);
  if (hit) return hit;
  const p = classifyIp(world, ipText);
  if (p) {
    if (cache.size >= IP_CACHE_LIMIT) cache.clear();
    cache.set(ipText, Object.freeze(p));
  }
  return p;
}

function classifyIp(world: World, ipText: string): Peer | null {
  const ip = parseIp(ipText);
  if (!ip) return null;
  const ep = world.byIp.get(ipText);
  if (ep) return endpointPeer(ep);
  const isHost = world.entities.host.includes(ipText);
  const node = world.nodeByIp.get(ipText);
  // D8: a node address is that node; the local node (host) when listed as host, else remote.
  const isRemote = world.entities['remote-node'].includes(ipText) || (node !== undefined && !isHost);
  const isApi = world.entities['kube-apiserver'].includes(ipText);
  let kind: PeerKind = 'world';
  let labels = WORLD;
  if (isApi) {
    kind = 'kube-apiserver';
    labels = reservedLabels(['kube-apiserver', isHost ? 'host' : isRemote ? 'remote-node' : 'world']);
  } else if (isHost) {
    kind = 'host';
    labels = HOST;
  } else if (isRemote) {
    kind = 'remote-node';
    labels = node && !isHost ? nodeIdentityLabels(node.labels) : REMOTE;
  }
  const names = labels.has('reserved', 'world') ? (world.namesByIp.get(ipText) ?? []) : [];
  return { kind, labels, ip, ipText, endpoint: null, names, display: `${kind} ${ipText}`, key: `${labels.id}@${ipText}` };
}

/** Resolves a reference or returns an error sentence. */
export function resolvePeer(world: World, ref: PeerRef): Peer | string {
  if ('endpoint' in ref) {
    const ep = world.byId.get(ref.endpoint);
    return ep ? endpointPeer(ep) : `unknown endpoint ${JSON.stringify(ref.endpoint)} (not in the world file)`;
  }
  if ('ip' in ref) return peerByIp(world, ref.ip) ?? `invalid IP address ${JSON.stringify(ref.ip)}`;
  if ('fqdn' in ref) {
    const name = normalizeName(ref.fqdn);
    const ip = world.fqdns.get(name)?.[0];
    if (ip) {
      const p = peerByIp(world, ip);
      if (p) return { ...p, display: `${ref.fqdn} (${ip})` };
    }
    // Never learned by the DNS proxy: an unknown world address no toFQDNs selector matches.
    return { kind: 'world', labels: WORLD, ip: null, ipText: null, endpoint: null, names: [], display: `${ref.fqdn} (no learned IP)`, key: `${WORLD.id}@?` };
  }
  if ('service' in ref) return `a service (${ref.service}) is resolved to a backend by the engine, not here`;
  const entity = ref.entity;
  if (entity === 'world') {
    return { kind: 'world', labels: WORLD, ip: null, ipText: null, endpoint: null, names: [], display: 'world', key: `${WORLD.id}@` };
  }
  if (entity === 'host' || entity === 'remote-node' || entity === 'kube-apiserver') {
    const ip = world.entities[entity][0] ?? (entity === 'remote-node' ? world.nodes.find((n) => n.address && !world.entities.host.includes(n.address))?.address ?? undefined : undefined);
    if (ip) return peerByIp(world, ip) as Peer;
    const labels = entity === 'host' ? HOST : entity === 'remote-node' ? REMOTE : reservedLabels(['kube-apiserver', 'world']);
    return { kind: entity, labels, ip: null, ipText: null, endpoint: null, names: [], display: entity, key: `${labels.id}@` };
  }
  return `unknown entity ${JSON.stringify(entity)} (known: host, remote-node, kube-apiserver, world)`;
}
