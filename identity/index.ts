/**
 * identity/: SPIFFE IDs, trust bundles, X.509-SVID verification and the SPIFFE sources
 * (Workload API, SPIRE Delegated Identity API). See docs/identity.md. May import: core.
 */
export * from './spiffe-id.js';
export * from './encoding.js';
export * from './rejections.js';
export * from './verify.js';
