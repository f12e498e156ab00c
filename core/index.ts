/**
 * core/: base error class, error-code registry and a few shared primitive types.
 * May import: nothing. Everything may import core.
 */
export * from './errors.js';
export * from './codes.js';
export * from './types.js';
export * from './duration.js';
