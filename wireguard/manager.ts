/**
 * The node's WireGuard manager: owns the key (persisted, rotated), the device (wireguard-go
 * through UAPI) and the peers and pod-CIDR routes derived from the node list. Node sources
 * (world.yaml `nodes`, Kubernetes Node objects) feed `setNodes()`; the public key is announced
 * through `onPublicKey()` so a source can publish it (annotation `network.cilium.io/wg-pub-key`).
 *
 * Status is measured: `refresh()` reads the device (UAPI get) and the kernel routes, and
 * `status()` returns that reading with its time. Changes are serialized: one UAPI transaction per
 * reconcile, additions before removals. The private key appears in no log, error or status.
 */
import type { Logger } from 'pino';
import { TendrilError } from '../core/index.js';
import { UserspaceDevice } from './device.js';
import { KeyStore } from './key-store.js';
import { PrivateKey, type PublicKey } from './keys.js';
import { desiredPeers, planPeers, planRoutes, type NodeInfo, type SkippedNode } from './peers.js';
import type { DeviceState } from './uapi.js';

export interface ManagerOptions {
  nodeName: string;
  ifname: string;
  listenPort: number;
  /** Folder of the key files (created 0700). */
  stateDir: string;
  log: Logger;
  /** Run the device in this network namespace path. */
  netnsPath?: string;
  wireguardGo?: string;
  /** Persistent keepalive for every peer in seconds (0: off, WireGuard's default). */
  persistentKeepalive?: number;
  /** How often the status reading is refreshed from the device (0: only after changes). */
  refreshMs?: number;
}

export interface PeerStatus {
  node: string | null;
  publicKey: PublicKey;
  endpoint: string | null;
  allowedIps: string[];
  lastHandshake: string | null;
  rxBytes: number;
  txBytes: number;
}

export interface WireGuardStatus {
  enabled: true;
  backend: 'wireguard-go';
  interface: string;
  up: boolean;
  publicKey: PublicKey;
  listenPort: number;
  peers: PeerStatus[];
  routes: string[];
  skippedNodes: SkippedNode[];
  measuredAt: string | null;
  lastError: string | null;
}

export interface ReconcileResult {
  added: string[];
  updated: string[];
  removed: string[];
  routesAdded: string[];
  routesDeleted: string[];
  skipped: SkippedNode[];
}

export class WireGuardManager {
  private readonly store: KeyStore;
  private readonly device: UserspaceDevice;
  private readonly log: Logger;
  private key: PrivateKey | null = null;
  private nodes: NodeInfo[] = [];
  private skipped: SkippedNode[] = [];
  private nodeByKey = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  private reading: { state: DeviceState; routes: string[]; up: boolean; at: Date } | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly keyListeners: Array<(key: PublicKey) => void> = [];
  private started = false;

  constructor(private readonly opts: ManagerOptions) {
    this.log = opts.log.child({ interface: opts.ifname });
    this.store = new KeyStore(opts.stateDir);
    this.device = new UserspaceDevice({ ifname: opts.ifname, netnsPath: opts.netnsPath, wireguardGo: opts.wireguardGo, log: this.log });
  }

  get publicKey(): PublicKey {
    if (!this.key) throw new TendrilError('TND_INTERNAL_BUG', 'WireGuard manager: public key read before start');
    return this.key.publicKey;
  }

  get ifname(): string {
    return this.device.ifname;
  }

  get pid(): number | null {
    return this.device.pid;
  }

  /** True when start() took over a running device left by a previous agent. */
  get adopted(): boolean {
    return this.device.adopted;
  }

  /** Called with the public key at start and after each rotation (publish it to other nodes). */
  onPublicKey(fn: (key: PublicKey) => void): void {
    this.keyListeners.push(fn);
    if (this.key) fn(this.key.publicKey);
  }

  async start(): Promise<void> {
    const { key, created } = this.store.loadOrCreate();
    this.key = key;
    this.log.info({ publicKey: key.publicKey, created, keyFile: this.store.privatePath }, created ? 'WireGuard key generated' : 'WireGuard key loaded');
    try {
      await this.device.start();
      this.started = true;
      // No replace_peers: on an adopted device the reconcile below keeps the sessions of peers
      // that are still wanted and removes the rest; a new device has no peers anyway.
      const before = await this.device.get();
      await this.device.set({ privateKey: key, ...(before.listenPort !== this.opts.listenPort ? { listenPort: this.opts.listenPort } : {}) });
      for (const fn of this.keyListeners) fn(key.publicKey);
      await this.reconcileNow();
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (this.opts.refreshMs) {
      this.timer = setInterval(() => void this.enqueue(() => this.refresh()).catch(() => undefined), this.opts.refreshMs);
      this.timer.unref();
    }
  }

  /** Replaces the node list and reconciles peers and routes to it. */
  setNodes(nodes: NodeInfo[]): Promise<ReconcileResult> {
    this.nodes = nodes.map((n) => ({ ...n, podCIDRs: [...n.podCIDRs] }));
    if (!this.started) return Promise.resolve({ added: [], updated: [], removed: [], routesAdded: [], routesDeleted: [], skipped: [] });
    return this.enqueue(() => this.reconcileNow());
  }

  /**
   * New key pair: persisted first (a crash after this keeps the new key), then applied to the
   * device, then announced. Peers keep decrypting with the current sessions; the next handshake
   * uses the new key once they know it, and TCP retransmits across that gap (docs/wireguard.md).
   */
  rotateKey(): Promise<PublicKey> {
    return this.enqueue(async () => {
      const next = PrivateKey.generate();
      const previous = this.key?.publicKey;
      this.store.save(next);
      await this.device.set({ privateKey: next });
      this.key = next;
      await this.kick((await this.device.get()).peers.map((p) => p.publicKey));
      this.log.info({ publicKey: next.publicKey, previous }, 'WireGuard key rotated');
      for (const fn of this.keyListeners) fn(next.publicKey);
      await this.refresh();
      return next.publicKey;
    });
  }

  /** Reads the device and routes now (status() returns this reading). */
  refreshNow(): Promise<WireGuardStatus> {
    return this.enqueue(async () => {
      await this.refresh();
      return this.status();
    });
  }

  status(): WireGuardStatus {
    const r = this.reading;
    const now = Date.now();
    return {
      enabled: true,
      backend: 'wireguard-go',
      interface: this.device.ifname,
      up: r?.up ?? false,
      publicKey: this.key?.publicKey ?? '',
      listenPort: r?.state.listenPort ?? 0,
      peers: (r?.state.peers ?? []).map((p) => ({
        node: this.nodeByKey.get(p.publicKey) ?? null,
        publicKey: p.publicKey,
        endpoint: p.endpoint,
        allowedIps: p.allowedIps,
        lastHandshake: p.lastHandshakeMs && p.lastHandshakeMs <= now + 60_000 ? new Date(p.lastHandshakeMs).toISOString() : null,
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
      })),
      routes: r?.routes ?? [],
      skippedNodes: this.skipped,
      measuredAt: r?.at.toISOString() ?? null,
      lastError: this.lastError,
    };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.started = false;
    await this.queue.catch(() => undefined);
    await this.device.stop();
  }

  /**
   * Starts handshakes with these peers now instead of on the next packet: enabling a persistent
   * keepalive makes wireguard-go send one at once (and a handshake first when there is no
   * session), then the interval goes back to the configured one. A restarted or re-keyed node
   * thereby replaces the sessions its peers still hold for it before traffic needs them.
   */
  private async kick(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const keepalive = this.opts.persistentKeepalive ?? 0;
    await this.device.set({ peers: keys.map((publicKey) => ({ publicKey, updateOnly: true, persistentKeepalive: keepalive || 1 })) });
    if (!keepalive) await this.device.set({ peers: keys.map((publicKey) => ({ publicKey, updateOnly: true, persistentKeepalive: 0 })) });
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reconcileNow(): Promise<ReconcileResult> {
    const key = this.key!;
    try {
      const { peers, skipped } = desiredPeers({ name: this.opts.nodeName, publicKey: key.publicKey }, this.nodes, this.opts.listenPort);
      this.skipped = skipped;
      this.nodeByKey = new Map(peers.map((p) => [p.publicKey, p.node]));
      const state = await this.device.get();
      const plan = planPeers(state.peers, peers);
      if (plan.changes.length) await this.device.set({ peers: plan.changes });
      await this.kick(peers.filter((p) => plan.added.includes(p.node)).map((p) => p.publicKey));
      const routes = planRoutes(await this.device.routes(), peers.flatMap((p) => p.allowedIps));
      for (const c of routes.add) await this.device.addRoute(c);
      for (const c of routes.del) await this.device.delRoute(c);
      for (const s of skipped) this.log.warn({ node: s.node, reason: s.reason }, 'node not peered');
      const result: ReconcileResult = { added: plan.added, updated: plan.updated, removed: plan.removed, routesAdded: routes.add, routesDeleted: routes.del, skipped };
      if (plan.changes.length || routes.add.length || routes.del.length) this.log.info(result, 'WireGuard peers reconciled');
      this.lastError = null;
      await this.refresh();
      return result;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  private async refresh(): Promise<void> {
    if (!this.started) return;
    try {
      const [state, routes, link] = await Promise.all([this.device.get(), this.device.routes(), this.device.link()]);
      this.reading = { state, routes, up: link?.up ?? false, at: new Date() };
    } catch (err) {
      this.lastError = (err as Error).message;
      this.reading = null;
    }
  }
}
