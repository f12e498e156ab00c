/**
 * One client connection: llhttp (strict) parses the byte stream; every request — plain, Upgrade
 * or CONNECT — goes through ONE pipeline: hardened validation (validate-request.ts), the
 * listener's single judge point, the request flow, then a reply strategy:
 *
 *   deny      the proxy's 403 (connection kept when the body is read to its end, else closed)
 *   forward   the judged head re-serialized once onto a pooled raw upstream connection
 *             (upstream-conn.ts), body and response relayed as buffers with backpressure
 *   websocket the same, on a fresh upstream connection; a byte tunnel after the upstream's 101
 *   connect   a byte tunnel to the redirect's upstream (CONNECT allowed by a rule)
 *
 * Requests on one connection are served one at a time in order: after a request is complete the
 * parser stops until its response is done (pipelined bytes wait, unparsed, with the socket paused).
 * A parse error answers 4xx and closes; inside a body being forwarded it aborts the upstream
 * request (that upstream connection is destroyed, never reused).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionPolicy, ConnectionQuery, HttpRequestFacts, Verdict } from '../../policy/api.js';
import { proxyResponseBytes } from '../deny.js';
import { isAuthDenial } from '../auth-gate.js';
import { emitHttpFlow, malformedRecord, requestRecord, responseRecord, type FlowConnContext, type FlowRequest } from '../flows.js';
import type { RedirectTarget } from '../redirect-source.js';
import type { UpstreamFailure } from '../upstream.js';
import { HPE, Parser, TYPE_REQUEST, type ParserEvents } from './llhttp.js';
import { relayedFields, requestHead, statusLine } from './response-head.js';
import type { ListenerContext } from './listener-context.js';
import type { UpstreamConn, UpstreamPool } from './upstream-conn.js';
import { validateRequest, type ValidRequest } from './validate-request.js';

/** Envoy keeps the connection after a denial only when the body is (or will be) fully read. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
/** Chunk framing (size line, extensions, trailers) allowed between two body bytes (node:http's limit). */
const MAX_CHUNK_FRAMING_BYTES = 16 * 1024;
const EXPECT_CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const CHUNK_END = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

function clientErrorStatus(code: string): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

export class ClientConn implements ParserEvents {
  private readonly parser: Parser;
  /** Request being parsed. */
  private url = '';
  private headers: string[] = [];
  private field = '';
  private value = '';
  private inValue = false;
  private headerBytes = 0;
  /** Own error code set by a callback that returned HPE.USER (header overflow). */
  private userError: string | null = null;
  /** Chunk framing bytes since the last body byte (chunk-extension bound). */
  private framing = 0;
  private chunkedBody = false;
  /** The request in flight (headers judged, forwarded, response not done). */
  private cur: Exchange | null = null;
  /** The current request was denied and its (small) body is read and dropped. */
  private discard = false;
  /** The current request asked for a protocol switch / is CONNECT: parsing ends after it. */
  private upgrading = false;
  /** Parsing has ended for good (closing, errored, or tunnelling). */
  stopped = false;
  /** Parser paused after a complete request whose response is not done. */
  private waiting = false;
  private pending: Buffer | null = null;
  /** The request's message is still arriving (for timeouts). */
  inRequest = false;
  headersDone = false;
  messageStart = 0;
  lastActive: number;
  /** Served at least one request (idle timeout instead of headers timeout). */
  served = false;
  keepAlive = true;
  private clientEnded = false;
  /** Bytes the client sent after an upgrade request, held until the tunnel exists. */
  private held: Buffer[] | null = null;
  private readonly onDataBound = (d: Buffer): void => this.onData(d);
  private readonly pool: UpstreamPool;

  constructor(
    readonly ctx: ListenerContext,
    readonly socket: Duplex,
    readonly target: RedirectTarget,
    public policy: ConnectionPolicy,
    readonly flowCtx: FlowConnContext,
    readonly query: ConnectionQuery,
    public version: number | undefined,
  ) {
    this.parser = new Parser(TYPE_REQUEST, this);
    this.lastActive = ctx.now();
    this.messageStart = this.lastActive;
    this.pool = ctx.pools.get(target.upstream.host, target.upstream.port, target.source.endpoint ?? 'world');
    socket.on('data', this.onDataBound);
    socket.on('end', () => this.onEnd());
    socket.on('error', () => this.socket.destroy());
    socket.on('close', () => this.onClose());
  }

  // --- socket side ---

  private onData(d: Buffer): void {
    if (this.held !== null) {
      this.held.push(d);
      this.socket.pause();
      return;
    }
    if (this.stopped) return;
    if (this.waiting) {
      this.pending = this.pending === null ? d : Buffer.concat([this.pending, d]);
      this.socket.pause();
      return;
    }
    this.run(d);
  }

  private run(d: Buffer): void {
    this.spanEnd = 0;
    this.bodyMark = 0;
    const r = this.parser.execute(d);
    if (this.chunkedBody && !this.stopped && r.errno === HPE.OK) {
      // Chunk framing still arriving at the end of this chunk counts towards the bound.
      this.framing += d.length - this.bodyMark;
      if (this.framing > MAX_CHUNK_FRAMING_BYTES) return this.clientError('HPE_CHUNK_EXTENSIONS_OVERFLOW');
    }
    switch (r.errno) {
      case HPE.OK:
        return;
      case HPE.PAUSED: {
        this.parser.resume();
        const rest = r.pos < d.length ? d.subarray(r.pos) : null;
        if (this.stopped) return;
        if (this.waiting) {
          if (rest !== null) {
            this.pending = rest;
            this.socket.pause();
          }
          return;
        }
        if (rest !== null) this.run(rest);
        return;
      }
      case HPE.PAUSED_UPGRADE: {
        this.stopped = true;
        const rest = d.subarray(r.pos);
        if (this.held !== null && rest.length > 0) this.held.push(rest);
        return;
      }
      case HPE.USER:
        if (this.stopped) return;
        return this.clientError(this.userError ?? 'HPE_USER');
      default:
        if (this.stopped) return;
        return this.clientError(Parser.errnoName(r.errno));
    }
  }

  /** End (in the chunk being parsed) of the last request-line/header span. */
  private spanEnd = 0;
  /** Where in the chunk being parsed the current run of chunk framing started. */
  private bodyMark = 0;

  private onEnd(): void {
    this.clientEnded = true;
    if (this.held !== null) return; // a tunnel is being set up: it or its failure answer ends the connection
    if (this.stopped) return;
    if (this.cur !== null) {
      if (!this.cur.requestDone) this.cur.clientAborted();
      return; // answered, then closed (half-open clients still get their answer)
    }
    if (!this.waiting) this.socket.end();
  }

  private onClose(): void {
    this.ctx.forget(this);
    this.stopped = true;
    this.cur?.clientAborted();
    this.cur = null;
    this.parser.free();
  }

  /** Timeouts (the listener's sweep): 408 for an incomplete request head or request, close when idle. */
  sweep(now: number): void {
    if (this.stopped) return;
    const o = this.ctx.options;
    if (this.inRequest) {
      if (!this.headersDone && now - this.messageStart > o.headersTimeoutMs) this.clientError('ERR_HTTP_REQUEST_TIMEOUT');
      else if (this.headersDone && now - this.messageStart > o.requestTimeoutMs && this.cur !== null && !this.cur.requestDone) this.clientError('ERR_HTTP_REQUEST_TIMEOUT');
      return;
    }
    if (this.cur !== null || this.waiting) return;
    if (now - this.lastActive > (this.served ? o.idleTimeoutMs : o.headersTimeoutMs)) {
      this.stopped = true;
      this.socket.destroy();
    }
  }

  /** A framing/syntax error, header overflow or timeout: answer and close (or abort the body in flight). */
  private clientError(code: string): void {
    this.stopped = true;
    const status = clientErrorStatus(code);
    const ex = this.cur;
    if (ex !== null && !ex.requestDone) {
      this.ctx.debug({ code, status }, 'request body rejected by llhttp mid-stream');
      ex.abortBody(status, `client_body_malformed:${code}`);
      return;
    }
    this.ctx.stats.malformed++;
    if (this.ctx.flowsOn()) emitHttpFlow(this.ctx.flows, malformedRecord(this.flowCtx, { method: '', url: '', protocol: 'HTTP/1.1' }, status, code));
    this.ctx.debug({ code, status }, 'client request rejected by llhttp');
    if (ex !== null) return; // the response in flight finishes, then the connection closes
    this.answerAndClose(status);
  }

  answerAndClose(status: number, noBody = false): void {
    this.stopped = true;
    this.held = null;
    if (!this.socket.writable) {
      this.socket.destroy();
      return;
    }
    this.socket.end(proxyResponseBytes(status, true, noBody));
  }

  // --- llhttp events (request) ---

  onMessageBegin(): number {
    this.url = '';
    this.headers = [];
    this.field = '';
    this.value = '';
    this.inValue = false;
    this.headerBytes = 0;
    this.inRequest = true;
    this.headersDone = false;
    this.messageStart = this.ctx.now();
    this.discard = false;
    this.framing = 0;
    this.chunkedBody = false;
    return 0;
  }

  onUrl(c: Buffer, s: number, e: number): number {
    this.url += c.toString('latin1', s, e);
    this.spanEnd = e;
    return this.count(e - s);
  }

  onStatus(): number {
    return 0;
  }

  onHeaderField(c: Buffer, s: number, e: number): number {
    if (this.inValue) {
      this.headers.push(this.field, trimOws(this.value));
      this.field = '';
      this.value = '';
      this.inValue = false;
    }
    this.field += c.toString('latin1', s, e);
    this.spanEnd = e;
    return this.count(e - s);
  }

  onHeaderValue(c: Buffer, s: number, e: number): number {
    this.inValue = true;
    this.value += c.toString('latin1', s, e);
    this.spanEnd = e;
    return this.count(e - s);
  }

  private count(n: number): number {
    this.headerBytes += n;
    if (this.headerBytes > this.ctx.options.maxHeaderBytes) {
      this.userError = 'HPE_HEADER_OVERFLOW';
      return HPE.USER;
    }
    return 0;
  }

  onHeadersComplete(_status: number, upgrade: boolean, keepAlive: boolean): number {
    if (this.inValue || this.field.length > 0) this.headers.push(this.field, trimOws(this.value));
    this.field = '';
    this.value = '';
    this.inValue = false;
    this.bodyMark = this.spanEnd;
    this.headersDone = true;
    this.served = true;
    this.keepAlive = keepAlive;
    this.upgrading = upgrade;
    const method = this.parser.method();
    const version = this.parser.version();
    this.ctx.stats.requests++;
    // Latency is only reported in flows: no clock read when they are off.
    const startNs = this.ctx.flowsOn() ? process.hrtime.bigint() : 0n;
    const r = this.pipeline(method, version, upgrade, startNs);
    return this.stopped ? HPE.USER : r;
  }

  /** The one request pipeline (plain, Upgrade, CONNECT): validate, judge once, reply. */
  private pipeline(method: string, version: string, upgrade: boolean, startNs: bigint): number {
    const ctx = this.ctx;
    const emit = ctx.flowsOn();
    const rawLine = { method, url: this.url, httpVersion: version, rawHeaders: this.headers };
    const protocol = `HTTP/${version}`;
    let v: ValidRequest | null = null;
    let facts: HttpRequestFacts;
    let fr: FlowRequest | null = null;
    let expectContinue = false;
    if (method === 'CONNECT') {
      const authority = this.url;
      const hostField = headerValue(this.headers, 'host');
      const host = hostField ?? authority;
      facts = { method: 'CONNECT', path: authority, host, headers: { host } };
      if (emit) fr = { method: 'CONNECT', url: authority, protocol };
    } else {
      if (!upgrade && version === '1.1') {
        const expect = headerValue(this.headers, 'expect');
        if (expect !== null) {
          if (EXPECT_CONTINUE.test(expect)) expectContinue = true;
          else return this.reject(rawLine, 417, 'unsupported_expectation');
        }
      }
      const checked = validateRequest(rawLine, ctx.options);
      if (!checked.ok) return this.reject(rawLine, checked.status, checked.reason);
      if (upgrade && (checked.chunked || (checked.contentLength ?? 0) > 0)) return this.reject(rawLine, 400, 'upgrade_with_body');
      v = checked;
      facts = v.facts;
      if (emit) fr = { method: v.method, url: `http://${v.host}${v.target === '*' ? '' : v.target}`, protocol };
    }
    const verdict: Verdict = ctx.judge(this, facts);
    if (fr !== null) emitHttpFlow(ctx.flows, requestRecord(this.flowCtx, fr, verdict));
    const hasBody = v !== null && (v.chunked || (v.contentLength ?? 0) > 0);
    this.chunkedBody = v !== null && v.chunked;
    if (!verdict.allowed) {
      ctx.stats.denied++;
      const bodyDone = !hasBody || (!expectContinue && !v!.chunked && (v!.contentLength ?? 0) <= DRAIN_LIMIT_BYTES);
      const close = !bodyDone || upgrade || method === 'CONNECT' || !this.keepAlive;
      if (fr !== null) emitHttpFlow(ctx.flows, responseRecord(this.flowCtx, fr, 403, Number(process.hrtime.bigint() - startNs), { verdict: 'DROPPED', reason: verdict.reason, authFailed: isAuthDenial(verdict) }));
      if (close) {
        this.answerAndClose(403, method === 'HEAD');
        return HPE.USER;
      }
      this.socket.write(proxyResponseBytes(403, false, method === 'HEAD'));
      this.discard = true;
      return 0;
    }
    if (method === 'CONNECT') {
      this.held = [];
      new ConnectTunnel(this, this.url, facts.host, fr, startNs).start();
      return 0;
    }
    const ws = upgrade && method === 'GET' && (headerValue(this.headers, 'upgrade') ?? '').trim().toLowerCase() === 'websocket';
    if (ws) this.held = [];
    if (expectContinue && hasBody) this.socket.write(CONTINUE);
    // A request naming any Upgrade is never switched (the field is stripped); its connection ends
    // after the answer so nothing that follows is parsed or forwarded (http-hardening-rules.md sec. 8).
    const closeAfter = upgrade || !this.keepAlive || headerValue(this.headers, 'upgrade') !== null;
    const ex = new Exchange(this, v!, fr, startNs, ws, closeAfter, version === '1.1');
    this.cur = ex;
    ex.start(this.pool, !hasBody);
    return 0;
  }

  private reject(line: { method: string; url: string; httpVersion: string }, status: number, reason: string): number {
    this.ctx.stats.malformed++;
    if (this.ctx.flowsOn()) emitHttpFlow(this.ctx.flows, malformedRecord(this.flowCtx, { method: line.method, url: line.url, protocol: `HTTP/${line.httpVersion}` }, status, reason));
    this.ctx.debug({ reason, status }, 'request rejected by hardened parser');
    this.answerAndClose(status);
    return HPE.USER;
  }

  onBody(c: Buffer, s: number, e: number): number {
    if (this.chunkedBody) {
      if (this.framing + (s - this.bodyMark) > MAX_CHUNK_FRAMING_BYTES) {
        this.userError = 'HPE_CHUNK_EXTENSIONS_OVERFLOW';
        return HPE.USER;
      }
      this.framing = 0;
      this.bodyMark = e;
    }
    if (this.discard) return 0;
    const ex = this.cur;
    if (ex !== null) ex.requestBody(c.subarray(s, e));
    return 0;
  }

  onMessageComplete(): number {
    this.inRequest = false;
    this.chunkedBody = false;
    const ex = this.cur;
    if (ex !== null) ex.requestEnd();
    this.discard = false;
    if (this.upgrading) return 0; // llhttp stops with PAUSED_UPGRADE
    if (this.stopped) return HPE.PAUSED;
    if (!this.keepAlive) {
      this.stopped = true;
      return HPE.PAUSED;
    }
    if (this.cur !== null) {
      this.waiting = true;
      return HPE.PAUSED;
    }
    this.lastActive = this.ctx.now();
    return 0;
  }

  // --- exchange callbacks ---

  /** The exchange is over (response relayed or failed, request complete or abandoned). */
  exchangeDone(ex: Exchange, keepOpen: boolean): void {
    if (this.cur !== ex) return;
    this.cur = null;
    this.lastActive = this.ctx.now();
    if (!keepOpen || (this.stopped && this.held === null)) {
      this.stopped = true;
      if (this.socket.writable) this.socket.end();
      else this.socket.destroy();
      return;
    }
    if (this.waiting) {
      this.waiting = false;
      const p = this.pending;
      this.pending = null;
      if (!this.clientEnded) this.socket.resume();
      if (p !== null) this.run(p);
    }
    // A half-closed client gets every pipelined answer, then the connection ends.
    if (this.clientEnded && this.cur === null && !this.waiting && !this.stopped) {
      this.stopped = true;
      this.socket.end();
    }
  }

  /** After an upstream 101 or a CONNECT's connection: the client side becomes a byte tunnel to `up`. */
  tunnel(up: net.Socket, first: Buffer | null): void {
    this.cur = null;
    this.stopped = true;
    this.ctx.forget(this);
    const held = this.held ?? [];
    this.held = null;
    this.socket.off('data', this.onDataBound);
    if (first !== null && first.length > 0) this.socket.write(first);
    for (const b of held) up.write(b);
    this.socket.on('error', () => up.destroy());
    this.socket.on('close', () => up.destroy());
    up.on('error', () => this.socket.destroy());
    up.on('close', () => this.socket.destroy());
    this.socket.pipe(up);
    up.pipe(this.socket);
    this.socket.resume();
  }

  /** Drops held post-upgrade bytes (the upstream refused the switch: they are not its data). */
  dropHeld(): void {
    this.held = null;
    this.stopped = true;
  }
}

/** A forwarded request (plain or WebSocket handshake): the `forward` / `websocket` reply strategy. */
class Exchange {
  private up: UpstreamConn | null = null;
  requestDone = false;
  private queued: Buffer[] | null = null;
  private responseStarted = false;
  private finished = false;
  private clientChunked = false;
  private keepOpen = false;
  private status = 0;
  private waitingDrain = false;
  private readonly acquired = (c: UpstreamConn): void => this.onConn(c);

  constructor(
    private readonly conn: ClientConn,
    private readonly v: ValidRequest,
    private readonly fr: FlowRequest | null,
    private readonly startNs: bigint,
    private readonly ws: boolean,
    private readonly closeAfter: boolean,
    /** The client speaks HTTP/1.1 (may receive a chunked body); HTTP/1.0 gets a read-to-close body. */
    private readonly http11: boolean,
  ) {}

  private pool: UpstreamPool | null = null;

  start(pool: UpstreamPool, bodyless: boolean): void {
    this.pool = pool;
    if (bodyless) this.requestDone = true;
    if (this.ws) this.onConn(pool.open());
    else pool.acquire(this.acquired);
  }

  private onConn(c: UpstreamConn): void {
    if (this.finished) {
      c.abort();
      return;
    }
    this.up = c;
    c.bind(this, this.v.method === 'HEAD', this.ws);
    c.write(requestHead(this.v, this.ws));
    if (this.queued !== null) {
      for (const b of this.queued) this.writeBody(b);
      this.queued = null;
    }
    if (this.requestDone) this.endBody();
  }

  requestBody(data: Buffer): void {
    if (this.finished) return;
    if (this.up === null) {
      (this.queued ??= []).push(Buffer.from(data));
      return;
    }
    this.writeBody(data);
  }

  private writeBody(data: Buffer): void {
    const up = this.up!;
    let ok: boolean;
    if (this.v.chunked) {
      const s = up.socket;
      s.cork();
      s.write(`${data.length.toString(16)}\r\n`, 'latin1');
      s.write(data);
      ok = s.write(CHUNK_END);
      s.uncork();
    } else ok = up.write(data);
    if (!ok && !this.waitingDrain) {
      // Upstream pushes back: stop reading the client until it drains.
      this.waitingDrain = true;
      this.conn.socket.pause();
      up.socket.once('drain', () => {
        this.waitingDrain = false;
        if (!this.finished) this.conn.socket.resume();
      });
    }
  }

  requestEnd(): void {
    if (this.requestDone) return;
    this.requestDone = true;
    if (this.up !== null && !this.finished) this.endBody();
  }

  private endBody(): void {
    if (this.v.chunked) this.up!.write(LAST_CHUNK);
    this.up!.requestComplete();
  }

  // --- ResponseSink ---

  onResponseHead(status: number, headers: string[]): void {
    const conn = this.conn;
    this.status = status;
    this.responseStarted = true;
    conn.ctx.stats.forwarded++;
    if (this.fr !== null) emitHttpFlow(conn.ctx.flows, responseRecord(conn.flowCtx, this.fr, status, Number(process.hrtime.bigint() - this.startNs), { verdict: 'FORWARDED' }));
    if (status === 101) {
      const { block } = relayedFields(headers, true);
      this.pending101 = `${statusLine(101)}${block}connection: Upgrade\r\n\r\n`;
      return;
    }
    const { block, framing } = relayedFields(headers, false);
    const bodyless = this.v.method === 'HEAD' || status === 204 || status === 304;
    let frame = '';
    let closeDelimited = false;
    if (framing.contentLength !== null && !framing.transferEncoded) frame = `content-length: ${framing.contentLength}\r\n`;
    else if (bodyless) frame = '';
    else if (this.http11) {
      this.clientChunked = true;
      frame = 'transfer-encoding: chunked\r\n';
    } else closeDelimited = true;
    this.keepOpen = conn.keepAlive && !this.closeAfter && !closeDelimited && this.requestDone;
    // Head and the body bytes parsed from the same upstream read leave in one writev.
    const sock = conn.socket;
    sock.cork();
    process.nextTick(uncork, sock);
    sock.write(`${statusLine(status)}${block}${frame}connection: ${this.keepOpen ? 'keep-alive' : 'close'}\r\n\r\n`, 'latin1');
  }

  private pending101: string | null = null;
  private clientFull = false;

  onResponseBody(data: Buffer): boolean {
    const s = this.conn.socket;
    let ok: boolean;
    if (this.clientChunked) {
      s.cork();
      s.write(`${data.length.toString(16)}\r\n`, 'latin1');
      s.write(data);
      ok = s.write(CHUNK_END);
      s.uncork();
    } else ok = s.write(data);
    if (!ok && !this.clientFull) {
      // The client reads slower than the upstream sends: stop reading the upstream until it drains.
      this.clientFull = true;
      s.once('drain', () => {
        this.clientFull = false;
        this.up?.resumeReading();
      });
    }
    return ok;
  }

  onResponseEnd(): void {
    const up = this.up!;
    if (this.status === 101 && this.pending101 !== null) {
      this.finished = true;
      const rest = up.takeRest();
      const sock = up.detach();
      if (rest !== null && rest.length > 0) sock.unshift(rest);
      this.conn.tunnel(sock, Buffer.from(this.pending101, 'latin1'));
      return;
    }
    if (this.clientChunked) this.conn.socket.write(LAST_CHUNK);
    this.finished = true;
    if (this.ws) this.conn.dropHeld();
    if (!this.requestDone) {
      // The upstream answered before the request body ended: that connection is not reusable,
      // and neither is the client's (its body would have to be read and dropped).
      up.abort();
    }
    this.conn.exchangeDone(this, this.keepOpen && this.requestDone);
  }

  onUpstreamError(failure: UpstreamFailure): void {
    if (this.finished) return;
    this.finished = true;
    const conn = this.conn;
    if (failure.status < 500) conn.ctx.stats.malformed++;
    else conn.ctx.stats.upstreamErrors++;
    conn.ctx.debug({ reason: failure.reason, status: failure.status }, 'upstream failure');
    if (this.fr !== null) emitHttpFlow(conn.ctx.flows, responseRecord(conn.flowCtx, this.fr, this.responseStarted ? this.status : failure.status, Number(process.hrtime.bigint() - this.startNs), { verdict: 'ERROR', reason: failure.reason }));
    if (this.responseStarted) {
      // Headers already relayed: the only honest signal left is to cut the client connection.
      conn.socket.destroy();
      return;
    }
    const close = !this.requestDone || this.ws || this.closeAfter || !conn.keepAlive;
    if (close) {
      conn.answerAndClose(failure.status);
      conn.exchangeDone(this, false);
      return;
    }
    conn.socket.write(proxyResponseBytes(failure.status, false));
    conn.exchangeDone(this, true);
  }

  /** The client's body was malformed mid-stream: abort the upstream request, answer if nothing was sent. */
  abortBody(status: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.requestDone = true;
    this.up?.abort();
    if (this.up === null && this.pool !== null) this.pool.cancel(this.acquired);
    const conn = this.conn;
    if (status < 500) conn.ctx.stats.malformed++;
    else conn.ctx.stats.upstreamErrors++;
    if (this.fr !== null) emitHttpFlow(conn.ctx.flows, responseRecord(conn.flowCtx, this.fr, this.responseStarted ? this.status : status, Number(process.hrtime.bigint() - this.startNs), { verdict: 'ERROR', reason }));
    if (this.responseStarted) conn.socket.destroy();
    else conn.answerAndClose(status);
    conn.exchangeDone(this, false);
  }

  /** The client went away (or half-closed mid-body) before the exchange ended. */
  clientAborted(): void {
    if (this.finished) return;
    this.finished = true;
    this.up?.abort();
    if (this.up === null && this.pool !== null) this.pool.cancel(this.acquired);
    const conn = this.conn;
    if (this.fr !== null) emitHttpFlow(conn.ctx.flows, responseRecord(conn.flowCtx, this.fr, 0, Number(process.hrtime.bigint() - this.startNs), { verdict: 'ERROR', reason: 'client_aborted' }));
    conn.socket.destroy();
  }
}

/** The `connect` reply strategy: an allowed CONNECT becomes a byte tunnel to the redirect's upstream. */
class ConnectTunnel {
  constructor(
    private readonly conn: ClientConn,
    private readonly authority: string,
    private readonly host: string,
    private readonly fr: FlowRequest | null,
    private readonly startNs: bigint,
  ) {}

  start(): void {
    const conn = this.conn;
    const t = conn.target.upstream;
    let connected = false;
    const up = net.connect({ host: t.host, port: t.port, noDelay: true });
    up.once('connect', () => {
      connected = true;
      conn.ctx.stats.forwarded++;
      up.write(`CONNECT ${this.authority} HTTP/1.1\r\nhost: ${this.host}\r\n\r\n`, 'latin1');
      conn.tunnel(up, null);
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) return;
      conn.ctx.stats.upstreamErrors++;
      if (this.fr !== null) {
        emitHttpFlow(conn.ctx.flows, responseRecord(conn.flowCtx, this.fr, 503, Number(process.hrtime.bigint() - this.startNs), { verdict: 'ERROR', reason: `upstream_connect_failed:${err.code ?? 'error'}` }));
      }
      conn.answerAndClose(503);
    });
    conn.socket.once('close', () => {
      if (!connected) up.destroy();
    });
  }
}

function uncork(s: Duplex): void {
  s.uncork();
}

function headerValue(raw: readonly string[], lower: string): string | null {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === lower.length && n.toLowerCase() === lower) return raw[i + 1]!;
  }
  return null;
}

function trimOws(v: string): string {
  const last = v.charCodeAt(v.length - 1);
  return last === 0x20 || last === 0x09 ? v.replace(/[ \t]+$/, '') : v;
}
