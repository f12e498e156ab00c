/**
 * The composition helper the agent calls: builds the ring buffer, Hubble metrics, the Observer
 * gRPC API and the retained store from the `hubble` config slice, and returns one FlowSink that
 * feeds them all. Producers (proxy, DNS proxy, datapath event reader) only ever see `sink`.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Flow } from './flow.js';
import type { HttpFlowRecord } from './http-flow.js';
import { ObserverServer } from './grpc-server.js';
import { FlowMetrics } from './metrics/flow-metrics.js';
import { MetricsServer } from './metrics/server.js';
import { FlowRing } from './ring.js';
import { FanoutSink, type FlowSink } from './sink.js';
import { FlowStore } from './store/flow-store.js';
import { StoreSink } from './store/store-sink.js';
import { redactUrl } from './store/pg-store.js';
import { serverCredentials } from './grpc-tls.js';
import { hubbleTlsServerName, PeerRegistry, type PeerSource } from './peers.js';
import { networkInterfaces } from 'node:os';

/** The config slice observe/ needs (`config.hubble`). */
export type ObserveConfig = Pick<Config['hubble'], 'enabled' | 'listenAddress' | 'eventBufferCapacity' | 'metrics' | 'store'> & Partial<Pick<Config['hubble'], 'tls'>>;

export interface ObservabilityOptions {
  config: ObserveConfig;
  log: Logger;
  /** This node's name: stamped on flows emitted without one, reported by GetNodes. */
  nodeName: string;
  /** Version string for ServerStatus/GetNodes. */
  version: string;
  /**
   * Who fills the peer list `peer.Peer/Notify` serves: `self` (standalone: this node, added once
   * the API listens) or `external` (kubernetes: a node source feeds `Observability.peers`).
   */
  peers?: 'self' | 'external';
}

export interface Observability {
  /** The one sink producers emit into. `enabled` is false when hubble is disabled. */
  readonly sink: FlowSink;
  readonly ring: FlowRing;
  readonly metrics: FlowMetrics | null;
  readonly store: FlowStore | null;
  /** The peer list served by `peer.Peer/Notify`; a node source adds, updates and deletes peers. */
  readonly peers: PeerSource;
  /** Opens listeners and timers. Rejects with TND_OBSERVE_LISTEN / TND_OBSERVE_STORE. */
  start(): Promise<void>;
  /** Flushes the store, closes listeners; safe to call once after start(). */
  stop(): Promise<void>;
  /** Facts for `tendril status`. */
  status(): Record<string, unknown>;
}

/**
 * Validates the slice (metric list, retention) synchronously, so a bad config fails before
 * anything listens.
 */
export function createObservability(opts: ObservabilityOptions): Observability {
  const { config, nodeName } = opts;
  const log = opts.log.child({ component: 'observe' });
  const ring = new FlowRing(config.eventBufferCapacity);
  if (!config.enabled) {
    return {
      sink: new FanoutSink([]),
      ring,
      metrics: null,
      store: null,
      peers: new PeerRegistry(),
      start: async () => {},
      stop: async () => {},
      status: () => ({ enabled: false }),
    };
  }
  const retentionMs = config.store.retention;
  const metrics = config.metrics.enabled.length > 0 ? new FlowMetrics(config.metrics.enabled, ring) : null;
  const fanout = new FanoutSink([ring], (err) => log.error({ err }, 'BUG: a flow sink threw'));
  if (metrics) fanout.add(metrics);
  let store: FlowStore | null = null;
  let storeSink: StoreSink | null = null;
  const peers = new PeerRegistry();
  const tlsOn = config.tls?.enabled === true;
  // Read now: a missing or unusable certificate fails the start naming its key.
  const credentials = serverCredentials(config.tls);
  const grpc = new ObserverServer({ ring, log, nodeName, version: opts.version, address: config.listenAddress, peers, credentials, tls: tlsOn });
  const metricsServer = metrics ? new MetricsServer(metrics, config.metrics.listenAddress, log) : null;

  const sink: FlowSink = {
    enabled: true,
    emit(flow: Flow): void {
      if (flow.node_name === '') flow.node_name = nodeName;
      fanout.emit(flow);
    },
    emitHttp(flow: Flow, rec: HttpFlowRecord): void {
      if (flow.node_name === '') flow.node_name = nodeName;
      fanout.emitHttp(flow, rec);
    },
  };

  return {
    sink,
    ring,
    metrics,
    get store() {
      return store;
    },
    peers,
    async start() {
      if (config.store.enabled) {
        // SQLite: a main-thread connection for reads; the writer thread holds its own (WAL allows
        // both). PostgreSQL: only the writer thread connects (readers use `tendril observe --store <url>`).
        if (!config.store.url) store = new FlowStore(config.store.path);
        storeSink = new StoreSink({ path: config.store.path, url: config.store.url, retentionMs }, log);
        await storeSink.start();
        fanout.add(storeSink);
      }
      try {
        const bound = await grpc.start();
        if ((opts.peers ?? 'self') === 'self') {
          peers.add({ name: nodeName, address: advertisedAddress(bound), tls: tlsOn ? { serverName: hubbleTlsServerName(nodeName) } : null });
        }
        if (!tlsOn && !isLoopback(bound)) log.warn({ address: bound }, 'observer API serves plaintext on a non-loopback address; set hubble.tls.* to require mutual TLS');
        await metricsServer?.start();
      } catch (err) {
        await grpc.stop();
        await storeSink?.stop();
        store?.close();
        throw err;
      }
    },
    async stop() {
      await grpc.stop();
      await metricsServer?.stop();
      await storeSink?.stop();
      store?.close();
    },
    status() {
      return {
        enabled: true,
        observer: grpc.address,
        tls: tlsOn,
        peers: peers.size,
        metrics: metricsServer?.address ?? null,
        ring: { size: ring.size, capacity: ring.capacity, seen: ring.seen, lost: ring.lost },
        store: storeSink
          ? { ...(config.store.url ? { url: redactUrl(config.store.url) } : { path: config.store.path }), written: storeSink.written, lost: storeSink.lost }
          : null,
      };
    },
  };
}

function hostOf(address: string): string {
  const host = address.slice(0, address.lastIndexOf(':'));
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function isLoopback(address: string): boolean {
  const h = hostOf(address);
  return h.startsWith('127.') || h === '::1' || h === 'localhost';
}

/**
 * The address a relay dials for this node: the bound address, or for a wildcard bind
 * (0.0.0.0 / ::) the host's first non-internal IPv4 address with the bound port.
 */
export function advertisedAddress(bound: string): string {
  const h = hostOf(bound);
  if (h !== '0.0.0.0' && h !== '::' && h !== '') return bound;
  const port = bound.slice(bound.lastIndexOf(':') + 1);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return `${a.address}:${port}`;
  }
  return `127.0.0.1:${port}`;
}
