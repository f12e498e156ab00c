/**
 * Requests that ask for a protocol switch (`Connection: upgrade` + `Upgrade`), which node:http
 * hands over as a raw socket. They have already been validated and judged like any request;
 * this module only carries out an ALLOWED one (http-hardening.md section 8):
 *
 * - `Upgrade: websocket` on a body-less GET: the re-serialized request (normalized target, our
 *   own header block) goes to the upstream on a fresh connection; only when the upstream answers
 *   `101` does the connection become a byte tunnel. Client bytes sent before that are held, and
 *   dropped with the connection if the upstream refuses (RFC 9931: they are not WebSocket data
 *   then). A non-101 answer is relayed and the connection closed.
 * - any other upgrade (h2c, ...): never switched. The request is forwarded as a plain request
 *   without Upgrade/HTTP2-Settings and the answer written with `Connection: close`, so nothing
 *   after it is ever parsed or forwarded (h2c smuggling).
 * An upgrade request with a body is rejected by the caller: node:http does not parse the body of
 * an upgrade request, so it could not be framed safely.
 */
import { STATUS_CODES } from 'node:http';
import net from 'node:net';
import type { Dispatcher } from 'undici';
import { writeRawResponse } from '../deny.js';
import { classifyUpstreamError, type UpstreamFailure } from '../upstream.js';
import type { ValidRequest } from './validate-request.js';

export type UpgradeOutcome =
  | { kind: 'response'; status: number; latencyNs: number }
  | { kind: 'failure'; failure: UpstreamFailure; latencyNs: number };

const MAX_RESPONSE_HEAD = 64 * 1024;
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'http2-settings']);

/** True when this is a WebSocket opening handshake we are willing to tunnel. */
export function isWebSocketUpgrade(method: string, upgrade: string | undefined, v: ValidRequest): boolean {
  return method === 'GET' && (upgrade ?? '').trim().toLowerCase() === 'websocket' && !v.chunked && (v.contentLength ?? 0) === 0;
}

/** Tunnels an allowed WebSocket handshake once the upstream agrees (101). */
export function tunnelWebSocket(
  client: net.Socket,
  head: Buffer,
  v: ValidRequest,
  upstream: { host: string; port: number },
  timeouts: { connectMs: number; responseMs: number },
  startNs: bigint,
  done: (o: UpgradeOutcome) => void,
): void {
  const elapsed = (): number => Number(process.hrtime.bigint() - startNs);
  let settled = false;
  const settle = (o: UpgradeOutcome): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    done(o);
  };
  const fail = (err: unknown, fallback?: UpstreamFailure): void => {
    const failure = fallback ?? classifyUpstreamError(err);
    up.destroy();
    writeRawResponse(client, failure.status);
    settle({ kind: 'failure', failure, latencyNs: elapsed() });
  };
  const up = net.connect({ host: upstream.host, port: upstream.port, noDelay: true });
  let timer = setTimeout(() => fail(null, { status: 504, reason: 'upstream_connect_timeout' }), timeouts.connectMs);
  client.on('error', () => up.destroy());
  client.on('close', () => up.destroy());
  up.on('error', (err) => {
    if (!settled) fail(err);
    else client.destroy();
  });
  up.on('connect', () => {
    clearTimeout(timer);
    timer = setTimeout(() => fail(null, { status: 504, reason: 'upstream_response_timeout' }), timeouts.responseMs);
    const lines = [`GET ${v.target} HTTP/1.1`, `host: ${v.host}`];
    for (let i = 0; i < v.forwardHeaders.length; i += 2) lines.push(`${v.forwardHeaders[i]}: ${v.forwardHeaders[i + 1]}`);
    lines.push('connection: Upgrade', 'upgrade: websocket', '', '');
    up.write(lines.join('\r\n'));
  });
  let buf = Buffer.alloc(0);
  const onHead = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > MAX_RESPONSE_HEAD) fail(null, { status: 502, reason: 'upstream_invalid_response' });
      return;
    }
    up.off('data', onHead);
    const m = /^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, Math.min(end, 64)).toString('latin1'));
    if (!m) return fail(null, { status: 502, reason: 'upstream_invalid_response' });
    const status = Number(m[1]);
    client.write(buf);
    if (status === 101) {
      if (head.length > 0) up.write(head);
      client.pipe(up);
      up.pipe(client);
    } else {
      // Refused: relay its answer, never the client's early bytes, and close.
      up.pipe(client);
      client.pause();
      const cl = /\r\ncontent-length:\s*(\d+)\r\n/i.exec(buf.subarray(0, end + 2).toString('latin1'));
      const bodyHave = buf.length - end - 4;
      if (cl && bodyHave >= Number(cl[1])) {
        client.end();
        up.destroy();
      }
      up.on('end', () => client.end());
    }
    settle({ kind: 'response', status, latencyNs: elapsed() });
  };
  up.on('data', onHead);
}

/** Forwards an allowed non-WebSocket upgrade request as a plain request; answers with Connection: close. */
export function forwardWithoutUpgrade(
  client: net.Socket,
  dispatcher: Dispatcher,
  v: ValidRequest,
  startNs: bigint,
  done: (o: UpgradeOutcome) => void,
): void {
  const elapsed = (): number => Number(process.hrtime.bigint() - startNs);
  let settled = false;
  const settle = (o: UpgradeOutcome): void => {
    if (!settled) {
      settled = true;
      done(o);
    }
  };
  dispatcher
    .request({ path: v.target, method: v.method as Dispatcher.HttpMethod, headers: ['host', v.host, ...v.forwardHeaders] })
    .then(
      (r) => {
        const lines = [`HTTP/1.1 ${r.statusCode} ${STATUS_CODES[r.statusCode] ?? 'Unknown'}`];
        for (const [name, value] of Object.entries(r.headers)) {
          if (RESPONSE_HOP_BY_HOP.has(name) || value === undefined) continue;
          for (const x of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${x}`);
        }
        lines.push('connection: close', '', '');
        client.write(lines.join('\r\n'));
        r.body.pipe(client);
        r.body.on('error', () => client.destroy());
        settle({ kind: 'response', status: r.statusCode, latencyNs: elapsed() });
      },
      (err: unknown) => {
        const failure = classifyUpstreamError(err);
        writeRawResponse(client, failure.status);
        settle({ kind: 'failure', failure, latencyNs: elapsed() });
      },
    );
  client.on('error', () => undefined);
}
