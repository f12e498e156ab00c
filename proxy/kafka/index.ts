/**
 * proxy/kafka/: the Kafka L7 proxy (docs/kafka.md): wire primitives, the table-driven codec,
 * request decoding and topic extraction, deny responses, response rewriting, flows, the listener.
 */
export * from './wire.js';
export * from './schema.js';
export * from './apis.js';
export * from './request.js';
export * from './deny.js';
export * from './rewrite.js';
export { KafkaListener, DEFAULT_MAX_FRAME_BYTES, type KafkaListenerStats, type KafkaListenerDeps } from './listener.js';
