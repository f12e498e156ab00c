/**
 * Peer reconciliation, pure: the node list -> the peers and routes this node should have, and the
 * difference from what the device reports. Each other node with a published public key becomes
 * one peer: endpoint `<node address>:<port>`, allowed IPs = that node's pod CIDRs; each pod CIDR
 * is routed into the tunnel. A node without a usable key, address or CIDR is skipped with the
 * reason (shown by `tendril status`), never half-configured.
 */
import { isIP } from 'node:net';
import { isPublicKey, type PublicKey } from './keys.js';
import type { DevicePeer, PeerChange } from './uapi.js';

/** The Kubernetes annotation Cilium publishes a node's WireGuard public key in (CiliumNode/Node). */
export const WG_PUBKEY_ANNOTATION = 'network.cilium.io/wg-pub-key';

/** One node of the cluster, from any node source (world.yaml `nodes`, Kubernetes Node objects). */
export interface NodeInfo {
  name: string;
  /** The underlay address other nodes reach its WireGuard port on (Kubernetes: InternalIP). */
  address: string;
  podCIDRs: string[];
  /** Base64 public key, from the annotation `network.cilium.io/wg-pub-key`. */
  publicKey?: string;
  /** WireGuard UDP port of that node (default: this node's listen port, as in Cilium). */
  port?: number;
}

export interface DesiredPeer {
  node: string;
  publicKey: PublicKey;
  endpoint: string;
  allowedIps: string[];
}

export interface SkippedNode {
  node: string;
  reason: string;
}

/** Builds a NodeInfo from a Kubernetes-shaped node (name, InternalIP, podCIDRs, annotations). */
export function nodeFromAnnotations(n: { name: string; address: string; podCIDRs: string[]; annotations?: Record<string, string> }): NodeInfo {
  const key = n.annotations?.[WG_PUBKEY_ANNOTATION];
  return { name: n.name, address: n.address, podCIDRs: [...n.podCIDRs], ...(key !== undefined ? { publicKey: key } : {}) };
}

/** Canonical form of a prefix (host bits cleared, IPv6 lower-case); null when malformed. */
export function canonicalCidr(text: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return null;
  const fam = isIP(m[1]!);
  const len = Number(m[2]);
  if (fam === 4) {
    if (len > 32) return null;
    const v = m[1]!.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
    const mask = len === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - len)) - 1n);
    const net = v & mask;
    return `${[24n, 16n, 8n, 0n].map((s) => String((net >> s) & 255n)).join('.')}/${len}`;
  }
  if (fam === 6) return len <= 128 ? `${m[1]!.toLowerCase()}/${len}` : null;
  return null;
}

export function endpointOf(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Desired peers from the node list; `self` is this node's name (never peered with itself). */
export function desiredPeers(self: { name: string; publicKey: PublicKey }, nodes: NodeInfo[], defaultPort: number): { peers: DesiredPeer[]; skipped: SkippedNode[] } {
  const peers: DesiredPeer[] = [];
  const skipped: SkippedNode[] = [];
  const keys = new Map<string, string>();
  const cidrs = new Map<string, string>();
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (n.name === self.name) continue;
    const skip = (reason: string): void => void skipped.push({ node: n.name, reason });
    if (n.publicKey === undefined || n.publicKey === '') {
      skip(`no public key published (annotation ${WG_PUBKEY_ANNOTATION})`);
      continue;
    }
    if (!isPublicKey(n.publicKey)) {
      skip('published public key is not a base64 WireGuard key');
      continue;
    }
    if (n.publicKey === self.publicKey) {
      skip("publishes this node's own public key");
      continue;
    }
    if (keys.has(n.publicKey)) {
      skip(`same public key as node ${keys.get(n.publicKey)}`);
      continue;
    }
    if (isIP(n.address) === 0) {
      skip(`address "${n.address}" is not an IP address`);
      continue;
    }
    const port = n.port ?? defaultPort;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      skip(`port ${port} is not a UDP port`);
      continue;
    }
    const allowed: string[] = [];
    let bad: string | null = null;
    for (const c of n.podCIDRs) {
      const cc = canonicalCidr(c);
      if (!cc) bad = `pod CIDR "${c}" is malformed`;
      else if (cidrs.has(cc)) bad = `pod CIDR ${cc} is also node ${cidrs.get(cc)}'s`;
      else allowed.push(cc);
    }
    if (bad) {
      skip(bad);
      continue;
    }
    if (allowed.length === 0) {
      skip('no pod CIDRs');
      continue;
    }
    keys.set(n.publicKey, n.name);
    for (const c of allowed) cidrs.set(c, n.name);
    peers.push({ node: n.name, publicKey: n.publicKey, endpoint: endpointOf(n.address, port), allowedIps: allowed.sort() });
  }
  return { peers, skipped };
}

export interface PeerPlan {
  /** UAPI peer changes in order: additions and updates first, removals last (a key change moves the allowed IPs before the old peer goes). */
  changes: PeerChange[];
  added: string[];
  updated: string[];
  removed: string[];
}

/** What to send so the device's peers become `desired`. */
export function planPeers(current: DevicePeer[], desired: DesiredPeer[]): PeerPlan {
  const cur = new Map(current.map((p) => [p.publicKey, p]));
  const want = new Set(desired.map((d) => d.publicKey));
  const plan: PeerPlan = { changes: [], added: [], updated: [], removed: [] };
  for (const d of desired) {
    const c = cur.get(d.publicKey);
    if (!c) {
      plan.changes.push({ publicKey: d.publicKey, endpoint: d.endpoint, replaceAllowedIps: true, allowedIps: d.allowedIps });
      plan.added.push(d.node);
      continue;
    }
    const change: PeerChange = { publicKey: d.publicKey, updateOnly: true };
    let differs = false;
    if (c.endpoint !== d.endpoint) {
      change.endpoint = d.endpoint;
      differs = true;
    }
    const have = c.allowedIps.map((a) => canonicalCidr(a) ?? a).sort();
    if (have.join(',') !== d.allowedIps.join(',')) {
      change.replaceAllowedIps = true;
      change.allowedIps = d.allowedIps;
      differs = true;
    }
    if (differs) {
      plan.changes.push(change);
      plan.updated.push(d.node);
    }
  }
  for (const c of current) {
    if (want.has(c.publicKey)) continue;
    plan.changes.push({ publicKey: c.publicKey, remove: true });
    plan.removed.push(c.publicKey);
  }
  return plan;
}

/** Routes to add and delete so exactly `desired` prefixes go through the device. */
export function planRoutes(current: string[], desired: string[]): { add: string[]; del: string[] } {
  const cur = new Set(current.map((c) => canonicalCidr(c) ?? c));
  const want = new Set(desired);
  return { add: [...want].filter((c) => !cur.has(c)).sort(), del: [...cur].filter((c) => !want.has(c)).sort() };
}
