/**
 * Maps the agent's `proxy` config slice (config/schema.ts, durations as strings) to ProxyOptions.
 * The caller passes config's `durationMs` so proxy/ depends only on the slice's type.
 */
import type { Config } from '../config/index.js';
import { resolveProxyOptions, type ProxyOptions } from './options.js';

export function proxyOptionsFromConfig(cfg: Config['proxy'], durationMs: (value: string) => number): ProxyOptions {
  return resolveProxyOptions({
    maxHeaderBytes: cfg.maxHeaderBytes,
    maxHeaderCount: cfg.maxHeaderCount,
    headersTimeoutMs: durationMs(cfg.headersTimeout),
    requestTimeoutMs: durationMs(cfg.requestTimeout),
    idleTimeoutMs: durationMs(cfg.idleTimeout),
    upstreamConnectTimeoutMs: durationMs(cfg.upstreamConnectTimeout),
    upstreamResponseTimeoutMs: durationMs(cfg.upstreamResponseTimeout),
    encodedSlashes: cfg.encodedSlashes,
  });
}
