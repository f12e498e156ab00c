/**
 * identity/: SPIFFE IDs, trust bundles, X.509-SVID verification and the SPIFFE sources
 * (Workload API, SPIRE Delegated Identity API). See docs/identity.md. May import: core.
 */
export * from './spiffe-id.js';
export * from './encoding.js';
export * from './rejections.js';
export * from './verify.js';
export * from './endpoint.js';
export * from './stream.js';
export * from './svid.js';
export * from './store.js';
export * from './bundles.js';
export * from './protos.js';
export * from './workload-api.js';
export * from './delegated.js';
export { readFields, type CertFields } from './x509-fields.js';
