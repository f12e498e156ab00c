/**
 * Upstream side: undici Pools with keep-alive, one per (upstream address, source identity) so an
 * upstream connection is never shared between different client identities (http-hardening.md
 * section 6, PortSwigger 2025 desync advice). Also the mapping of upstream failures to the status
 * the client gets (502/503/504) with a reason tag for the flow.
 */
import { Pool } from 'undici';
import type { ProxyOptions } from './options.js';

export interface UpstreamFailure {
  /** 502/503/504 for upstream failures; 400 when the client's own body was malformed. */
  status: number;
  /** Stable tag for flows and logs, e.g. `upstream_connect_refused`. */
  reason: string;
}

/**
 * 503 when no connection could be made (Envoy: "upstream connect error"), 504 on timeouts, 502
 * when the upstream reset or answered something unparsable.
 */
export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return { status: 503, reason: `upstream_connect_failed:${code}` };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { status: 504, reason: 'upstream_connect_timeout' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { status: 504, reason: 'upstream_response_timeout' };
    case 'UND_ERR_BODY_TIMEOUT':
      return { status: 504, reason: 'upstream_body_timeout' };
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return { status: 502, reason: 'upstream_reset' };
    default:
      if (code.startsWith('HPE_') || code === 'UND_ERR_INFO') return { status: 502, reason: 'upstream_invalid_response' };
      return { status: 502, reason: code ? `upstream_error:${code}` : 'upstream_error' };
  }
}

/** Lazily created pools keyed by upstream and source identity. */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(private readonly opts: ProxyOptions) {}

  get(host: string, port: number, sourceKey: string): Pool {
    const key = `${host}:${port}|${sourceKey}`;
    let pool = this.pools.get(key);
    if (!pool) {
      if (this.closed) throw new Error('BUG: UpstreamPools used after close');
      pool = new Pool(`http://${host.includes(':') ? `[${host}]` : host}:${port}`, {
        connections: this.opts.upstreamConnections,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
        headersTimeout: this.opts.upstreamResponseTimeoutMs,
        bodyTimeout: this.opts.upstreamResponseTimeoutMs,
        connectTimeout: this.opts.upstreamConnectTimeoutMs,
        strictContentLength: true,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Number of live pools (for status). */
  get size(): number {
    return this.pools.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
  }
}
