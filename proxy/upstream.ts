/**
 * Upstream side: the mapping of upstream failures to the status the client gets (502/503/504)
 * with a reason tag for the flow. The pools (one per upstream address and source identity, so an
 * upstream connection is never shared between different client identities: http-hardening.md
 * section 6) live in http/upstream-conn.ts.
 */

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
    case 'TND_UPSTREAM_CONNECT_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { status: 504, reason: 'upstream_connect_timeout' };
    case 'TND_UPSTREAM_RESPONSE_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { status: 504, reason: 'upstream_response_timeout' };
    case 'TND_UPSTREAM_BODY_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { status: 504, reason: 'upstream_body_timeout' };
    case 'TND_UPSTREAM_CLOSED':
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return { status: 502, reason: 'upstream_reset' };
    default:
      if (code.startsWith('HPE_') || code === 'UND_ERR_INFO') return { status: 502, reason: 'upstream_invalid_response' };
      return { status: 502, reason: code ? `upstream_error:${code}` : 'upstream_error' };
  }
}
