/**
 * observe/: the producer contract. What the proxy, DNS proxy and datapath need to describe
 * traffic: the Flow schema (Hubble's flow.proto shape), its wire enums, the Summary strings,
 * the flow builders (`newFlow`, `outcomeFromVerdict`, `buildHttpFlow`) and the FlowSink
 * interface with its plain sinks. Loading it loads no gRPC, SQLite or Prometheus code.
 *
 * Everything that reads flows (ring buffer, Observer/Peer gRPC API, metrics, store, printers,
 * `createObservability`) is reached through `observe/consumers/index.ts` (docs/observe.md,
 * "Producers and consumers").
 * May import: core, policy (types only).
 */
export * from './enums.js';
export type * from './flow.js';
export * from './summary.js';
export * from './new-flow.js';
export * from './http-flow.js';
export * from './sink.js';
