/**
 * The proxy's own answers, in one table: the policy denial (Envoy-in-Cilium style `403` with body
 * `Access denied\r\n`, policy-semantics.md §7-8), hardened-parser rejections (400/431/501, always
 * closing: RFC 9112 sec. 6.3) and upstream failures (502/503/504).
 */

/** Envoy's default `denied_403_body` (15 bytes). */
export const ACCESS_DENIED_BODY = 'Access denied\r\n';

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Body text of a proxy-generated error (what Envoy sends, roughly). */
function bodyFor(status: number): string {
  if (status === 403) return ACCESS_DENIED_BODY;
  if (status === 503) return 'upstream connect error\r\n';
  if (status === 504) return 'upstream request timeout\r\n';
  if (status === 502) return 'upstream reset or invalid response\r\n';
  return `${REASON_PHRASES[status] ?? 'Error'}\r\n`;
}

const cache = new Map<number, Buffer>();

/**
 * A complete proxy answer as bytes (cached per status and connection disposition): status line,
 * `content-type`, `content-length`, `connection: keep-alive|close`, body. `noBody` for HEAD.
 */
export function proxyResponseBytes(status: number, close: boolean, noBody = false): Buffer {
  const key = status * 4 + (close ? 2 : 0) + (noBody ? 1 : 0);
  let b = cache.get(key);
  if (b === undefined) {
    const body = bodyFor(status);
    b = Buffer.from(
      `HTTP/1.1 ${status} ${REASON_PHRASES[status] ?? 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: ${close ? 'close' : 'keep-alive'}\r\n\r\n${noBody ? '' : body}`,
      'latin1',
    );
    cache.set(key, b);
  }
  return b;
}
