/**
 * Raw upstream connections, pooled per (upstream address, source identity) so a connection is
 * never shared between client identities (http-hardening.md section 6). Each connection parses
 * its responses with llhttp in strict mode (llhttp.ts) and hands them to the one exchange that
 * owns it (`ResponseSink`).
 *
 * Reuse rules (docs/proxy.md "Upstream connections"):
 * - a connection goes back to the pool only when its request was written completely, its
 *   response was parsed completely, both sides said keep-alive, and no byte followed the
 *   response;
 * - desync check: an idle pooled connection that receives any byte, or half-closes, is destroyed
 *   at once (it can never be handed out with stray bytes in front of the next response);
 * - any failure (timeout, reset, parse error, aborted client body) destroys the connection.
 */
import net from 'node:net';
import type { ProxyOptions } from '../options.js';
import { classifyUpstreamError, type UpstreamFailure } from '../upstream.js';
import { HPE, Parser, TYPE_RESPONSE, type ParserEvents } from './llhttp.js';

/** The exchange a connection currently serves. */
export interface ResponseSink {
  /** A final (>= 200) response head, or a 101. `headers`: flat `[name, value, ...]` as received. */
  onResponseHead(status: number, headers: string[], keepAlive: boolean): void;
  /** Body bytes (already de-chunked). Return false to apply backpressure until `resumeReading()`. */
  onResponseBody(data: Buffer): boolean;
  /** The response is complete. */
  onResponseEnd(): void;
  /** After a 101: the bytes that followed the head (the start of the tunnelled stream). */
  onUpgraded?(rest: Buffer): void;
  /** The connection failed before the response was complete. */
  onUpstreamError(failure: UpstreamFailure): void;
}

const IDLE_TIMEOUT_MS = 4_000;

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export class UpstreamConn implements ParserEvents {
  readonly socket: net.Socket;
  private readonly parser: Parser;
  private sink: ResponseSink | null = null;
  private connected = false;
  private connectTimer: NodeJS.Timeout | null = null;
  /** The request was a HEAD (its response has no body whatever its headers say). */
  private head = false;
  /** The request was written completely (head + whole body). */
  private requestDone = false;
  private responseDone = false;
  private gotHead = false;
  private keepAlive = false;
  /** Unparsed bytes after a complete response or a 101. */
  private rest: Buffer | null = null;
  private headers: string[] = [];
  private field = '';
  private value = '';
  private inValue = false;
  private headerBytes = 0;
  private readingPaused = false;
  private dead = false;
  private upgrade = false;

  constructor(
    readonly pool: UpstreamPool,
    host: string,
    port: number,
  ) {
    this.parser = new Parser(TYPE_RESPONSE, this);
    const s = net.connect({ host, port, noDelay: true });
    this.socket = s;
    this.connectTimer = setTimeout(() => this.fail(coded('TND_UPSTREAM_CONNECT_TIMEOUT', 'upstream connect timeout')), pool.opts.upstreamConnectTimeoutMs);
    s.once('connect', () => {
      this.connected = true;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      if (this.sink) s.setTimeout(pool.opts.upstreamResponseTimeoutMs);
    });
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('end', () => this.onEnd());
    s.on('error', (err) => this.fail(err));
    s.on('close', () => this.fail(coded('TND_UPSTREAM_CLOSED', 'upstream closed the connection')));
    s.on('timeout', () => {
      if (!this.sink) return this.destroy();
      this.fail(coded(this.gotHead ? 'TND_UPSTREAM_BODY_TIMEOUT' : 'TND_UPSTREAM_RESPONSE_TIMEOUT', 'upstream timeout'));
    });
  }

  /** Binds the connection to one exchange. `head`: the request is HEAD. `upgrade`: expect a 101. */
  bind(sink: ResponseSink, head: boolean, upgrade = false): void {
    this.sink = sink;
    this.head = head;
    this.upgrade = upgrade;
    this.requestDone = false;
    this.responseDone = false;
    this.gotHead = false;
    this.keepAlive = false;
    if (this.connected) this.socket.setTimeout(this.pool.opts.upstreamResponseTimeoutMs);
  }

  /** Writes request bytes (head or body); false = the socket buffer is full (wait for 'drain'). */
  write(data: Buffer | string): boolean {
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  /** The whole request has been written: the connection may be reused once the response completes. */
  requestComplete(): void {
    this.requestDone = true;
    if (this.responseDone) this.release();
  }

  /** The client-side consumer drained: read the upstream again. */
  resumeReading(): void {
    if (!this.readingPaused || this.dead) return;
    this.readingPaused = false;
    this.socket.resume();
  }

  /** Stops the exchange: the connection is closed, never reused (aborted client, malformed client body). */
  abort(): void {
    this.sink = null;
    this.destroy();
  }

  /** For a 101: hands the raw socket over (the pool forgets it). */
  detach(): net.Socket {
    this.sink = null;
    this.dead = true;
    this.parser.free();
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('end');
    this.socket.removeAllListeners('timeout');
    this.socket.removeAllListeners('close');
    this.socket.setTimeout(0);
    this.pool.forget(this);
    return this.socket;
  }

  private onData(d: Buffer): void {
    if (this.dead) return;
    if (this.sink === null || this.responseDone) {
      // Desync check: bytes nobody asked for (idle, or after a complete response).
      this.destroy();
      return;
    }
    const r = this.parser.execute(d);
    if (this.dead) return;
    if (r.errno === HPE.OK) return;
    if (r.errno === HPE.PAUSED) {
      // onMessageComplete stopped the parser after the response.
      if (r.pos < d.length) this.keepAlive = false;
      this.parser.resume();
      this.finishResponse();
      return;
    }
    if (r.errno === HPE.PAUSED_UPGRADE && this.gotHead) {
      this.rest = d.subarray(r.pos);
      this.finishResponse();
      return;
    }
    this.fail(coded(Parser.errnoName(r.errno), 'upstream response rejected by llhttp'));
  }

  private onEnd(): void {
    if (this.dead) return;
    if (this.sink === null || this.responseDone) return this.destroy();
    const errno = this.parser.finish();
    if (this.dead) return;
    if (errno === HPE.OK || errno === HPE.PAUSED) {
      if (this.responseDone || this.gotHead) {
        this.keepAlive = false;
        if (!this.responseDone) this.finishResponse();
        return;
      }
    }
    this.fail(coded('TND_UPSTREAM_CLOSED', 'upstream closed before a complete response'));
  }

  private finishResponse(): void {
    if (this.responseDone) return;
    this.responseDone = true;
    const sink = this.sink!;
    if (this.upgrade) {
      // 101 or a refusal: the connection is never pooled again.
      this.keepAlive = false;
    }
    sink.onResponseEnd();
    if (this.sink === sink && this.requestDone) this.release();
    else if (this.sink === sink && !this.keepAlive) this.destroy();
  }

  private release(): void {
    const reusable = this.keepAlive && this.requestDone && this.responseDone && !this.readingPaused && !this.upgrade;
    this.sink = null;
    if (!reusable || this.dead) return this.destroy();
    this.socket.setTimeout(IDLE_TIMEOUT_MS);
    this.pool.release(this);
  }

  private fail(err: unknown): void {
    if (this.dead) return;
    const sink = this.sink;
    this.destroy();
    if (sink && !this.responseDone) sink.onUpstreamError(classifyUpstreamError(err));
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.sink = null;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.socket.destroy();
    this.parser.free();
    this.pool.forget(this);
  }

  get isDead(): boolean {
    return this.dead;
  }

  // --- llhttp events (response) ---

  onMessageBegin(): number {
    this.headers = [];
    this.field = '';
    this.value = '';
    this.inValue = false;
    this.headerBytes = 0;
    return 0;
  }

  onUrl(): number {
    return 0;
  }

  onStatus(_c: Buffer, s: number, e: number): number {
    this.headerBytes += e - s;
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
    return this.count(e - s);
  }

  onHeaderValue(c: Buffer, s: number, e: number): number {
    this.inValue = true;
    this.value += c.toString('latin1', s, e);
    return this.count(e - s);
  }

  private count(n: number): number {
    this.headerBytes += n;
    return this.headerBytes > this.pool.opts.maxHeaderBytes ? HPE.USER : 0;
  }

  onHeadersComplete(status: number, _upgrade: boolean, keepAlive: boolean): number {
    if (this.inValue || this.field.length > 0) this.headers.push(this.field, trimOws(this.value));
    this.field = '';
    this.value = '';
    this.inValue = false;
    if (status < 200 && !(status === 101 && this.upgrade)) return 0; // 1xx: not relayed
    if (this.gotHead) return 0; // trailers do not come here; a second head cannot either
    this.gotHead = true;
    this.keepAlive = keepAlive;
    this.sink!.onResponseHead(status, this.headers, keepAlive);
    if (this.dead || this.sink === null) return HPE.USER;
    return this.head ? 1 : 0;
  }

  onBody(c: Buffer, s: number, e: number): number {
    const sink = this.sink;
    if (sink === null) return HPE.USER;
    if (!sink.onResponseBody(c.subarray(s, e)) && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    }
    return 0;
  }

  onMessageComplete(): number {
    if (!this.gotHead) return 0; // a 1xx interim response
    return HPE.PAUSED;
  }

  /** After a 101: the bytes past the head. */
  takeRest(): Buffer | null {
    const r = this.rest;
    this.rest = null;
    return r;
  }
}

function trimOws(v: string): string {
  const last = v.charCodeAt(v.length - 1);
  return last === 0x20 || last === 0x09 ? v.replace(/[ \t]+$/, '') : v;
}

/** Idle connections to one upstream for one source identity (LIFO), plus exchanges waiting for a slot. */
export class UpstreamPool {
  private readonly idle: UpstreamConn[] = [];
  private readonly all = new Set<UpstreamConn>();
  private readonly waiters: Array<(c: UpstreamConn) => void> = [];

  constructor(
    readonly opts: ProxyOptions,
    readonly host: string,
    readonly port: number,
    private readonly owner: UpstreamPools,
  ) {}

  /** A connection for one exchange: an idle one, a new one, or (at the limit) later through `cb`. */
  acquire(cb: (c: UpstreamConn) => void): void {
    const c = this.idle.pop();
    if (c) return cb(c);
    if (this.all.size >= this.opts.upstreamConnections) {
      this.waiters.push(cb);
      return;
    }
    cb(this.open());
  }

  /** A fresh connection outside the pool's reuse (WebSocket handshakes). */
  open(): UpstreamConn {
    if (this.owner.closed) throw new Error('BUG: UpstreamPools used after close');
    const c = new UpstreamConn(this, this.host, this.port);
    this.all.add(c);
    return c;
  }

  release(c: UpstreamConn): void {
    const w = this.waiters.shift();
    if (w) return w(c);
    this.idle.push(c);
  }

  forget(c: UpstreamConn): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.waiters.length > 0 && this.all.size < this.opts.upstreamConnections && !this.owner.closed) {
      const w = this.waiters.shift()!;
      w(this.open());
    }
  }

  /** Cancels a waiting acquire (the client went away). */
  cancel(cb: (c: UpstreamConn) => void): void {
    const i = this.waiters.indexOf(cb);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  get connections(): number {
    return this.all.size;
  }

  destroyAll(): void {
    this.waiters.length = 0;
    for (const c of [...this.all]) c.destroy();
  }
}

/** Lazily created pools keyed by upstream and source identity. */
export class UpstreamPools {
  private readonly pools = new Map<string, UpstreamPool>();
  closed = false;

  constructor(private readonly opts: ProxyOptions) {}

  get(host: string, port: number, sourceKey: string): UpstreamPool {
    const key = `${host}:${port}|${sourceKey}`;
    let pool = this.pools.get(key);
    if (!pool) {
      if (this.closed) throw new Error('BUG: UpstreamPools used after close');
      pool = new UpstreamPool(this.opts, host, port, this);
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
    for (const p of this.pools.values()) p.destroyAll();
    this.pools.clear();
  }
}
