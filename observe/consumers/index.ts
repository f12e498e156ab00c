/**
 * observe/ consumers: everything that reads flows emitted into a FlowSink. The ring buffer, the
 * Hubble Observer and Peer gRPC API (and a client), Hubble's Prometheus metrics, the retained
 * flow store (SQLite or PostgreSQL), printers and filters for `tendril observe`, and
 * `createObservability()`, the composition helper the agent calls. Loading this module loads
 * gRPC, better-sqlite3 and prom-client; producers import `observe/index.ts` only
 * (docs/observe.md, "Producers and consumers").
 */
export * from '../filter.js';
export * from '../ring.js';
export * from '../printer.js';
export * from '../flow-query.js';
export * from '../duration.js';
export * from '../cli-filters.js';
export * from '../observability.js';
export { ObserverServer, DEFAULT_OBSERVER_ADDRESS, type ObserverServerOptions } from '../grpc-server.js';
export { ObserverClient, type GetFlowsParams, type FlowsEvent } from '../grpc-client.js';
export { FlowMetrics } from '../metrics/flow-metrics.js';
export { MetricsServer, DEFAULT_METRICS_ADDRESS } from '../metrics/server.js';
export { parseMetricList, METRIC_NAMES, type MetricSpec } from '../metrics/options.js';
export { FlowStore, type PairAggregate, type StoreQuery } from '../store/flow-store.js';
export { StoreSink, type StoreSinkOptions } from '../store/store-sink.js';
export { PgFlowStore, isPostgresUrl, redactUrl } from '../store/pg-store.js';
export { toRow, type FlowRow } from '../store/row.js';
export * from '../pairs.js';
export { PeerRegistry, hubbleTlsServerName, type HubblePeer, type PeerChange, type PeerSource } from '../peers.js';
export { serverCredentials, clientCredentials, type HubbleTlsConfig, type ClientTlsOptions } from '../grpc-tls.js';
