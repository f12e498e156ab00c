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

/** The config slice observe/ needs (`config.hubble`). */
export type ObserveConfig = Pick<Config['hubble'], 'enabled' | 'listenAddress' | 'eventBufferCapacity' | 'metrics' | 'store'>;

export interface ObservabilityOptions {
  config: ObserveConfig;
  log: Logger;
  /** This node's name: stamped on flows emitted without one, reported by GetNodes. */
  nodeName: string;
  /** Version string for ServerStatus/GetNodes. */
  version: string;
}

export interface Observability {
  /** The one sink producers emit into. `enabled` is false when hubble is disabled. */
  readonly sink: FlowSink;
  readonly ring: FlowRing;
  readonly metrics: FlowMetrics | null;
  readonly store: FlowStore | null;
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
  const grpc = new ObserverServer({ ring, log, nodeName, version: opts.version, address: config.listenAddress });
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
    async start() {
      if (config.store.enabled) {
        // A main-thread connection for reads; the writer thread holds its own (WAL allows both).
        store = new FlowStore(config.store.path);
        storeSink = new StoreSink({ path: config.store.path, retentionMs }, log);
        await storeSink.start();
        fanout.add(storeSink);
      }
      try {
        await grpc.start();
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
        metrics: metricsServer?.address ?? null,
        ring: { size: ring.size, capacity: ring.capacity, seen: ring.seen, lost: ring.lost },
        store: store ? { path: store.path, written: storeSink?.written ?? 0, lost: storeSink?.lost ?? 0 } : null,
      };
    },
  };
}
