/**
 * config/: the schema, defaults, loading from file/env/flags, the one frozen `Config`.
 * May import: core. Components receive their slice of Config from agent/.
 */
export { loadConfig, DEFAULT_CONFIG_FILE, type ConfigSources } from './load.js';
export { configSchema, HUBBLE_METRICS_SEED, type Config } from './schema.js';
export { refuseUnsupported, unsupportedIn, UNSUPPORTED, PROXY_PROTOCOLS, MISSING_PROTOCOLS, type UnsupportedRow } from './unsupported.js';
