/**
 * Forwards one judged request to the upstream through undici's dispatcher API and streams the
 * response back with backpressure (no full buffering in either direction):
 * - request body: the node:http IncomingMessage is handed to undici as a Readable (undici pauses
 *   it when the upstream socket is full); framing is regenerated: `content-length` when the client
 *   sent one, otherwise chunked;
 * - response body: `res.write()` returning false pauses the upstream (controller.pause) until
 *   `drain`.
 * An aborted request (client gone, client body parse error mid-stream) aborts the dispatch, and
 * undici destroys that upstream connection instead of returning it to the pool
 * (http-hardening.md section 2: never reuse a connection holding a half request).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import { classifyUpstreamError, type UpstreamFailure } from '../upstream.js';
import type { ValidRequest } from './validate-request.js';

/** Response headers never relayed (RFC 9110 sec. 7.6.1) — node:http regenerates framing. */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'http2-settings']);

export type ForwardOutcome =
  | { kind: 'response'; status: number; latencyNs: number; complete: boolean }
  | { kind: 'failure'; failure: UpstreamFailure; latencyNs: number; answered: boolean }
  | { kind: 'aborted'; latencyNs: number };

function responseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const conn = headers['connection'];
  const nominated =
    conn === undefined
      ? null
      : new Set(
          (Array.isArray(conn) ? conn.join(',') : conn)
            .toLowerCase()
            .split(',')
            .map((t) => t.trim()),
        );
  const out: string[] = [];
  for (const name in headers) {
    if (RESPONSE_HOP_BY_HOP.has(name) || (nominated !== null && nominated.has(name))) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return out;
}

/** Handle on a forwarded request while its body is still arriving. */
export interface ForwardHandle {
  /**
   * The client's body turned out malformed (llhttp error mid-body): abort the upstream request
   * (undici destroys that connection) and report `status` as the outcome.
   */
  abortBody(status: number, reason: string): void;
}

export function forwardRequest(
  dispatcher: Dispatcher,
  req: IncomingMessage,
  res: ServerResponse,
  v: ValidRequest,
  startNs: bigint,
  done: (outcome: ForwardOutcome) => void,
): ForwardHandle {
  const headers = ['host', v.host, ...v.forwardHeaders];
  const hasBody = v.chunked || (v.contentLength ?? 0) > 0;
  if (!v.chunked && v.contentLength !== null) headers.push('content-length', String(v.contentLength));
  // undici destroys a body stream it gives up on; a PassThrough keeps that from destroying the
  // client socket, so a 400 can still be written after a mid-body parse error.
  const body = hasBody ? req.pipe(new PassThrough({ highWaterMark: 64 * 1024 })) : null;
  let controller: Dispatcher.DispatchController | null = null;
  let finished = false;
  let paused = false;
  let gotHeaders = false;
  const elapsed = (): number => Number(process.hrtime.bigint() - startNs);
  const finish = (o: ForwardOutcome): void => {
    if (finished) return;
    finished = true;
    res.off('close', onClientClose);
    done(o);
  };
  const onClientClose = (): void => {
    if (finished) return;
    controller?.abort(Object.assign(new Error('client connection closed'), { code: 'TND_CLIENT_ABORTED' }));
    finish({ kind: 'aborted', latencyNs: elapsed() });
  };
  const onDrain = (): void => {
    paused = false;
    controller?.resume();
  };
  res.on('close', onClientClose);
  const handle: ForwardHandle = {
    abortBody(status, reason) {
      if (finished) return;
      const err = Object.assign(new Error('client request body malformed'), { code: 'TND_HTTP_MALFORMED' });
      // finish first: controller.abort() calls onResponseError synchronously.
      finish({ kind: 'failure', failure: { status, reason }, latencyNs: elapsed(), answered: gotHeaders });
      controller?.abort(err);
      req.unpipe();
      if (gotHeaders) res.destroy();
    },
  };

  dispatcher.dispatch(
    { path: v.target, method: v.method, headers, body, upgrade: null },
    {
      onRequestStart(c) {
        controller = c;
        if (finished) c.abort(new Error('client connection closed'));
      },
      onResponseStart(c, statusCode, h) {
        if (statusCode < 200) return;
        try {
          res.writeHead(statusCode, responseHeaders(h as Record<string, string | string[] | undefined>));
          gotHeaders = true;
        } catch (err) {
          // node:http refused a header undici let through: treat as an invalid upstream response.
          c.abort(Object.assign(new Error('upstream response header rejected'), { code: 'HPE_INVALID_HEADER_TOKEN', cause: err }));
        }
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk) && !paused) {
          paused = true;
          c.pause();
          res.once('drain', onDrain);
        }
      },
      onResponseEnd() {
        res.end();
        finish({ kind: 'response', status: res.statusCode, latencyNs: elapsed(), complete: true });
      },
      onResponseError(_c, err) {
        if (finished) return;
        const failure = classifyUpstreamError(err);
        if (!gotHeaders && !res.headersSent && !res.destroyed) {
          finish({ kind: 'failure', failure, latencyNs: elapsed(), answered: false });
          return;
        }
        // Headers already relayed: the only honest signal left is to cut the client connection.
        res.destroy();
        finish({ kind: 'failure', failure, latencyNs: elapsed(), answered: true });
      },
    },
  );
  return handle;
}
