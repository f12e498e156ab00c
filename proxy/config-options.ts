/**
 * Maps the agent's `proxy` config slice (config/schema.ts; durations already in milliseconds) to
 * ProxyOptions.
 */
import type { Config } from '../config/index.js';
import { resolveProxyOptions, type ProxyOptions } from './options.js';

export function proxyOptionsFromConfig(cfg: Config['proxy']): ProxyOptions {
  return resolveProxyOptions({
    maxHeaderBytes: cfg.maxHeaderBytes,
    maxHeaderCount: cfg.maxHeaderCount,
    headersTimeoutMs: cfg.headersTimeout,
    requestTimeoutMs: cfg.requestTimeout,
    idleTimeoutMs: cfg.idleTimeout,
    upstreamConnectTimeoutMs: cfg.upstreamConnectTimeout,
    upstreamResponseTimeoutMs: cfg.upstreamResponseTimeout,
    encodedSlashes: cfg.encodedSlashes,
  });
}
