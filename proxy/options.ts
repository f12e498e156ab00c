/**
 * The proxy's limits and normalization options, already parsed into numbers. The agent builds
 * them from `Config['proxy']` (durations are milliseconds from config load); `tendril proxy` uses the
 * defaults. Every field is validated once here; later code trusts the types.
 */
import { TendrilError } from '../core/index.js';

export interface ProxyOptions {
  /** Largest request header section (request line + headers), bytes. node:http `maxHeaderSize`. */
  maxHeaderBytes: number;
  /** Most header fields in one request; more is answered 431. */
  maxHeaderCount: number;
  /** Time to receive a complete header section (slowloris bound), ms. */
  headersTimeoutMs: number;
  /** Time to receive a complete request (headers + body), ms. */
  requestTimeoutMs: number;
  /** Keep-alive idle time between requests on a client connection, ms. */
  idleTimeoutMs: number;
  /** Upstream TCP connect timeout, ms. */
  upstreamConnectTimeoutMs: number;
  /** Time the upstream may take to send response headers (and between body chunks), ms. */
  upstreamResponseTimeoutMs: number;
  /** Upstream connections per (upstream, source identity) pool. */
  upstreamConnections: number;
  /** Most concurrent client connections per listener (0 = unlimited). */
  maxConnections: number;
  /** `%2F` / `%5C` in a path: keep encoded (Envoy's KEEP_UNCHANGED default) or 400. */
  encodedSlashes: 'keep' | 'reject';
  /** A raw `\` in a path: 400, or treat it as `/` the way Envoy's path normalization does. */
  backslash: 'reject' | 'slash';
}

export const DEFAULT_PROXY_OPTIONS: Readonly<ProxyOptions> = Object.freeze({
  maxHeaderBytes: 65536,
  maxHeaderCount: 100,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 60_000,
  upstreamConnectTimeoutMs: 5_000,
  upstreamResponseTimeoutMs: 60_000,
  upstreamConnections: 128,
  maxConnections: 0,
  encodedSlashes: 'reject',
  backslash: 'reject',
});

const POSITIVE_INT_KEYS = [
  'maxHeaderBytes',
  'maxHeaderCount',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'idleTimeoutMs',
  'upstreamConnectTimeoutMs',
  'upstreamResponseTimeoutMs',
  'upstreamConnections',
] as const;

/** Merges overrides onto the defaults and validates every field (names the field on error). */
export function resolveProxyOptions(overrides: Partial<ProxyOptions> = {}): ProxyOptions {
  const o: ProxyOptions = { ...DEFAULT_PROXY_OPTIONS, ...overrides };
  for (const key of POSITIVE_INT_KEYS) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) {
      throw new TendrilError('TND_CONFIG_INVALID', `proxy.${key}: must be a positive integer, got ${String(o[key])}`, { field: `proxy.${key}` });
    }
  }
  if (!Number.isInteger(o.maxConnections) || o.maxConnections < 0) {
    throw new TendrilError('TND_CONFIG_INVALID', `proxy.maxConnections: must be an integer >= 0, got ${String(o.maxConnections)}`, { field: 'proxy.maxConnections' });
  }
  if (o.headersTimeoutMs > o.requestTimeoutMs) {
    throw new TendrilError('TND_CONFIG_INVALID', `proxy.headersTimeout: must not exceed proxy.requestTimeout (${o.headersTimeoutMs} > ${o.requestTimeoutMs} ms)`, { field: 'proxy.headersTimeout' });
  }
  if (o.encodedSlashes !== 'keep' && o.encodedSlashes !== 'reject') {
    throw new TendrilError('TND_CONFIG_INVALID', `proxy.encodedSlashes: must be keep or reject, got ${String(o.encodedSlashes)}`, { field: 'proxy.encodedSlashes' });
  }
  if (o.backslash !== 'reject' && o.backslash !== 'slash') {
    throw new TendrilError('TND_CONFIG_INVALID', `proxy.backslash: must be reject or slash, got ${String(o.backslash)}`, { field: 'proxy.backslash' });
  }
  return Object.freeze(o);
}
