/**
 * The proxy's own answers, in one table: the policy denial (Envoy-in-Cilium style `403` with body
 * `Access denied\r\n`, policy-semantics.md §7-8), hardened-parser rejections (400/431/501, always
 * closing: RFC 9112 sec. 6.3) and upstream failures (502/503/504).
 */
import type { ServerResponse } from 'node:http';
import type net from 'node:net';

/** Envoy's default `denied_403_body` (15 bytes). */
export const ACCESS_DENIED_BODY = 'Access denied\r\n';

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  408: 'Request Timeout',
  413: 'Payload Too Large',
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

/**
 * Answers a request from the proxy. `close` adds `Connection: close` so node:http closes the
 * socket after this response (used when the request body was not fully read, and after every
 * parse error).
 */
export function sendProxyResponse(res: ServerResponse, status: number, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = bodyFor(status);
  res.shouldKeepAlive = res.shouldKeepAlive && !close;
  res.writeHead(status, REASON_PHRASES[status], [
    'content-type',
    'text/plain',
    'content-length',
    String(Buffer.byteLength(body)),
    ...(close ? ['connection', 'close'] : []),
  ]);
  res.end(body);
}

/** Writes a complete closing response straight onto a socket (clientError, CONNECT), then ends it. */
export function writeRawResponse(socket: net.Socket, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = bodyFor(status);
  socket.end(
    `HTTP/1.1 ${status} ${REASON_PHRASES[status] ?? 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
