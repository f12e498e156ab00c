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
export * from './sink.js';
export * from './filter.js';
export * from './ring.js';
export * from './printer.js';
export * from './flow-query.js';
export * from './duration.js';
