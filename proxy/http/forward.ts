/**
 * Forwards one judged request to the upstream through undici's dispatcher API and streams the
 * response back with backpressure (no full buffering in either direction):
 * - request body: the node:http IncomingMessage is handed to undici as a Readable (undici pauses
 *   it when the upstream socket is full); framing is regenerated: `content-length` when the client
 *   sent one, otherwise chunked;
 * - response body: `res.write()` returning false pauses the upstream (onData returns false) until
 *   `drain`.
 * An aborted request (client gone, client body parse error mid-stream) aborts the dispatch, and
 * undici destroys that upstream connection instead of returning it to the pool
 * (http-hardening.md section 2: never reuse a connection holding a half request).
 *
 * Hot path (every forwarded request): one handler object per request implementing undici's
 * dispatch handler interface directly (onConnect/onHeaders/onData/onComplete/onError), so undici
 * wraps nothing and parses no header object; response headers go from undici's raw list to
 * `res.writeHead` as one flat array. No per-request closures (see docs/proxy.md, Benchmark).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { util as undiciUtil, type Dispatcher } from 'undici';
import { classifyUpstreamError, type UpstreamFailure } from '../upstream.js';
import type { ValidRequest } from './validate-request.js';

/** Response headers never relayed (RFC 9110 sec. 7.6.1) — node:http regenerates framing. */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'http2-settings']);

export type ForwardOutcome =
  | { kind: 'response'; status: number; latencyNs: number; complete: boolean }
  | { kind: 'failure'; failure: UpstreamFailure; latencyNs: number; answered: boolean }
  | { kind: 'aborted'; latencyNs: number };

/**
 * undici's raw response header list (name, value, ... as Buffers) -> the flat `[name, value, ...]`
 * array relayed to the client: names lower-cased, values latin1 as received, hop-by-hop fields and
 * the fields the upstream's `Connection` nominates dropped.
 */
export function responseHeaders(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  // Fields a `Connection` header nominates beyond the fixed hop-by-hop set (usually none: nginx
  // sends `keep-alive`), applied after the pass because the nomination may come last.
  let nominated: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    // undici's header-name tree: the interned lower-case name of a known field, without a copy.
    const name = undiciUtil.headerNameToString(raw[i]!);
    if (name === 'connection') {
      for (const t of raw[i + 1]!.toString('latin1').toLowerCase().split(',')) {
        const token = t.trim();
        if (!RESPONSE_HOP_BY_HOP.has(token)) (nominated ??= new Set()).add(token);
      }
      continue;
    }
    if (RESPONSE_HOP_BY_HOP.has(name)) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (nominated === null) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!nominated.has(out[i]!)) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

/** Handle on a forwarded request while its body is still arriving. */
export interface ForwardHandle {
  /**
   * The client's body turned out malformed (llhttp error mid-body): abort the upstream request
   * (undici destroys that connection) and report `status` as the outcome.
   */
  abortBody(status: number, reason: string): void;
}

type Abort = (err?: Error) => void;

function codedError(message: string, code: string, cause?: unknown): Error {
  const err = new Error(message, cause === undefined ? undefined : { cause }) as Error & { code: string };
  err.code = code;
  return err;
}

/** One forwarded request: undici dispatch handler + ForwardHandle + client-side listeners. */
class Forward implements ForwardHandle {
  private abortFn: Abort | null = null;
  private resumeFn: (() => void) | null = null;
  private finished = false;
  private paused = false;
  private gotHeaders = false;
  private readonly onClientClose: () => void;
  private onDrain: (() => void) | null = null;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly startNs: bigint,
    private readonly done: (outcome: ForwardOutcome) => void,
  ) {
    this.onClientClose = Forward.prototype.clientClosed.bind(this);
    res.on('close', this.onClientClose);
  }

  private elapsed(): number {
    return Number(process.hrtime.bigint() - this.startNs);
  }

  private finish(o: ForwardOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.res.off('close', this.onClientClose);
    this.done(o);
  }

  private clientClosed(): void {
    if (this.finished) return;
    this.abortFn?.(codedError('client connection closed', 'TND_CLIENT_ABORTED'));
    this.finish({ kind: 'aborted', latencyNs: this.elapsed() });
  }

  private drained(): void {
    this.paused = false;
    // The resume function belongs to the upstream connection's parser, which a finished request
    // no longer owns (it may be parsing another request's response by now).
    if (!this.finished) this.resumeFn?.();
  }

  abortBody(status: number, reason: string): void {
    if (this.finished) return;
    // finish first: abort() calls onError synchronously.
    this.finish({ kind: 'failure', failure: { status, reason }, latencyNs: this.elapsed(), answered: this.gotHeaders });
    this.abortFn?.(codedError('client request body malformed', 'TND_HTTP_MALFORMED'));
    this.req.unpipe();
    if (this.gotHeaders) this.res.destroy();
  }

  // --- undici dispatch handler ---

  onConnect(abort: Abort): void {
    this.abortFn = abort;
    if (this.finished) abort(new Error('client connection closed'));
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    this.resumeFn = resume;
    if (statusCode < 200) return true;
    try {
      this.res.writeHead(statusCode, responseHeaders(raw));
      this.gotHeaders = true;
    } catch (err) {
      // node:http refused a header undici let through: treat as an invalid upstream response.
      this.abortFn?.(codedError('upstream response header rejected', 'HPE_INVALID_HEADER_TOKEN', err));
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk) || this.paused) return !this.paused;
    this.paused = true;
    this.res.once('drain', (this.onDrain ??= Forward.prototype.drained.bind(this)));
    return false;
  }

  onComplete(): void {
    this.res.end();
    this.finish({ kind: 'response', status: this.res.statusCode, latencyNs: this.elapsed(), complete: true });
  }

  onError(err: Error): void {
    if (this.finished) return;
    const failure = classifyUpstreamError(err);
    const res = this.res;
    if (!this.gotHeaders && !res.headersSent && !res.destroyed) {
      this.finish({ kind: 'failure', failure, latencyNs: this.elapsed(), answered: false });
      return;
    }
    // Headers already relayed: the only honest signal left is to cut the client connection.
    res.destroy();
    this.finish({ kind: 'failure', failure, latencyNs: this.elapsed(), answered: true });
  }
}

export function forwardRequest(
  dispatcher: Dispatcher,
  req: IncomingMessage,
  res: ServerResponse,
  v: ValidRequest,
  startNs: bigint,
  done: (outcome: ForwardOutcome) => void,
): ForwardHandle {
  const fwd = v.forwardHeaders;
  const headers = new Array<string>(fwd.length + 2);
  headers[0] = 'host';
  headers[1] = v.host;
  for (let i = 0; i < fwd.length; i++) headers[i + 2] = fwd[i]!;
  const hasBody = v.chunked || (v.contentLength ?? 0) > 0;
  if (!v.chunked && v.contentLength !== null) headers.push('content-length', String(v.contentLength));
  // undici destroys a body stream it gives up on; a PassThrough keeps that from destroying the
  // client socket, so a 400 can still be written after a mid-body parse error.
  const body = hasBody ? req.pipe(new PassThrough({ highWaterMark: 64 * 1024 })) : null;
  const handler = new Forward(req, res, startNs, done);
  dispatcher.dispatch({ path: v.target, method: v.method, headers, body, upgrade: null }, handler);
  return handler;
}
