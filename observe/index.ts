/**
 * observe/: the Flow schema (Hubble's flow.proto shape) and the FlowSink interface producers
 * emit into, plus everything that reads flows: ring buffer, flow log, Prometheus metrics, the
 * Hubble Observer gRPC API, printers for `tendril observe`, and the retained SQLite flow store.
 * May import: core, policy (types only).
 */
export * from './enums.js';
export type * from './flow.js';
export * from './summary.js';
export * from './new-flow.js';
export * from './http-flow.js';
export * from './sink.js';
export * from './filter.js';
export * from './ring.js';
export * from './printer.js';
export * from './flow-query.js';
export * from './duration.js';
export * from './cli-filters.js';
export * from './observability.js';
export { ObserverServer, DEFAULT_OBSERVER_ADDRESS, type ObserverServerOptions } from './grpc-server.js';
export { ObserverClient, type GetFlowsParams, type FlowsEvent } from './grpc-client.js';
export { FlowMetrics } from './metrics/flow-metrics.js';
export { MetricsServer, DEFAULT_METRICS_ADDRESS } from './metrics/server.js';
export { parseMetricList, METRIC_NAMES, type MetricSpec } from './metrics/options.js';
export { FlowStore, type PairAggregate, type StoreQuery } from './store/flow-store.js';
export { StoreSink, type StoreSinkOptions } from './store/store-sink.js';
export { toRow, type FlowRow } from './store/row.js';
export * from './pairs.js';
