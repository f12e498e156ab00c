/**
 * The peer list Hubble's `peer.Peer/Notify` serves (docs/observe.md, "Peers and Hubble Relay"):
 * every node whose Observer API a relay should dial, with the address to dial and, when that
 * node serves TLS, the name its certificate is verified against. In standalone mode the list is
 * this node; in kubernetes mode a node source feeds it through the `PeerSource` interface.
 */

/** One Hubble peer: a node's Observer API. */
export interface HubblePeer {
  /** Unique name: the node name (`<cluster>/<node>` outside the default cluster). */
  name: string;
  /** `host:port` a relay dials. */
  address: string;
  /** Set when the peer serves TLS: the server name to verify its certificate against. */
  tls: { serverName: string } | null;
}

export type PeerChange = 'PEER_ADDED' | 'PEER_DELETED' | 'PEER_UPDATED';

/** What a node source calls to keep the peer list current. */
export interface PeerSource {
  /** Adds a peer, or updates it when one of that name exists. */
  add(peer: HubblePeer): void;
  /** Updates a peer (adds it when unknown). */
  update(peer: HubblePeer): void;
  /** Removes the peer of that name (no-op when unknown). */
  delete(name: string): void;
}

/**
 * Cilium's TLS server name for a node's Hubble server: `<node>.<cluster>.hubble-grpc.cilium.io`,
 * dots in the node name replaced by `-` (the certificate carries `*.<cluster>.hubble-grpc.cilium.io`).
 */
export function hubbleTlsServerName(nodeName: string, clusterName = 'default'): string {
  return `${nodeName.replace(/\./g, '-')}.${clusterName.replace(/\./g, '-')}.hubble-grpc.cilium.io`;
}

function same(a: HubblePeer, b: HubblePeer): boolean {
  return a.address === b.address && (a.tls?.serverName ?? null) === (b.tls?.serverName ?? null);
}

/** The peer list with change listeners (the Notify streams). */
export class PeerRegistry implements PeerSource {
  private readonly peers = new Map<string, HubblePeer>();
  private readonly listeners = new Set<(type: PeerChange, peer: HubblePeer) => void>();

  add(peer: HubblePeer): void {
    this.set(peer);
  }

  update(peer: HubblePeer): void {
    this.set(peer);
  }

  delete(name: string): void {
    const old = this.peers.get(name);
    if (!old) return;
    this.peers.delete(name);
    this.notify('PEER_DELETED', old);
  }

  private set(peer: HubblePeer): void {
    const p = Object.freeze({ name: peer.name, address: peer.address, tls: peer.tls ? Object.freeze({ serverName: peer.tls.serverName }) : null });
    const old = this.peers.get(p.name);
    if (old && same(old, p)) return;
    this.peers.set(p.name, p);
    this.notify(old ? 'PEER_UPDATED' : 'PEER_ADDED', p);
  }

  private notify(type: PeerChange, peer: HubblePeer): void {
    for (const l of [...this.listeners]) l(type, peer);
  }

  /** Current peers, by name. */
  list(): HubblePeer[] {
    return [...this.peers.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.peers.size;
  }

  /**
   * Calls `fn` with every current peer as PEER_ADDED, then with every change; returns the
   * unsubscribe function. Nothing can change between the snapshot and the subscription (both
   * happen synchronously).
   */
  watch(fn: (type: PeerChange, peer: HubblePeer) => void): () => void {
    for (const p of this.list()) fn('PEER_ADDED', p);
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }
}
