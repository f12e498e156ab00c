/**
 * One HTTP/1.1 proxy listener (one redirect): accept, attribute the connection (RedirectSource ->
 * source identity + original destination), ask the policy engine once per connection, then for
 * EVERY request (keep-alive and pipelined alike): validate (hardened rules llhttp leaves to us),
 * normalize once, judge the normalized form, and either answer 403 or forward exactly that form.
 *
 * node:http runs llhttp in strict mode (`insecureHTTPParser: false`) with our limits; its
 * `clientError` path (framing errors, header overflow, slowloris timeout) answers and closes.
 * Upgrade requests are handled as ordinary requests with `Upgrade` stripped (no 'upgrade'
 * listener), so h2c/WebSocket never switch protocols behind the policy's back; CONNECT is judged
 * like any request (method CONNECT, path = authority) and tunnels only when a rule allows it.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { FlowSink } from '../../observe/index.js';
import type { ConnectionPolicy, ConnectionQuery, HttpRequestFacts, PolicyEngine, Verdict } from '../../policy/api.js';
import { TendrilError } from '../../core/index.js';
import { sendProxyResponse, writeRawResponse } from '../deny.js';
import { connContext, emitHttpFlow, malformedRecord, requestRecord, responseRecord, type DescribeEndpoint, type FlowConnContext, type FlowRequest } from '../flows.js';
import type { ProxyOptions } from '../options.js';
import type { RedirectSource, RedirectTarget } from '../redirect-source.js';
import type { UpstreamPools } from '../upstream.js';
import { forwardRequest, type ForwardHandle } from './forward.js';
import { forwardWithoutUpgrade, isWebSocketUpgrade, tunnelWebSocket, type UpgradeOutcome } from './upgrade.js';
import { validateRequest, type ValidRequest } from './validate-request.js';

export interface HttpListenerDeps {
  listen: { host: string; port: number };
  redirects: RedirectSource;
  engine: PolicyEngine;
  pools: UpstreamPools;
  flows: FlowSink;
  log: Logger;
  options: ProxyOptions;
  describe: DescribeEndpoint;
  nodeName: string;
}

/** Counters for status and tests. */
export interface HttpListenerStats {
  connections: number;
  requests: number;
  denied: number;
  malformed: number;
  forwarded: number;
  upstreamErrors: number;
}

interface ConnState {
  target: RedirectTarget;
  policy: ConnectionPolicy;
  /** `engine.version` when `policy` was taken; a swapped engine re-derives it before the next request. */
  version: number | undefined;
  query: ConnectionQuery;
  flowCtx: FlowConnContext;
  poolKey: string;
  /** A parse error was answered; ignore further parser noise on this socket. */
  failed: boolean;
  /** The forwarded request whose body is still arriving (a parse error now belongs to it). */
  receiving: { req: IncomingMessage; handle: ForwardHandle } | null;
  /** The upstream pool of this connection (upstream + source identity), looked up once. */
  pool: Dispatcher | null;
}

/** Envoy keeps the connection after a denial only when the body is (or will be) fully read. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

export class HttpListener {
  readonly stats: HttpListenerStats = { connections: 0, requests: 0, denied: 0, malformed: 0, forwarded: 0, upstreamErrors: 0 };
  private readonly server: http.Server;
  private readonly states = new WeakMap<net.Socket, ConnState>();
  private readonly log: Logger;
  private port = 0;

  constructor(private readonly deps: HttpListenerDeps) {
    const o = deps.options;
    this.log = deps.log.child({ component: 'proxy.http', listen: `${deps.listen.host}:${deps.listen.port}` });
    this.server = http.createServer({
      insecureHTTPParser: false,
      maxHeaderSize: o.maxHeaderBytes,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      keepAliveTimeout: o.idleTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(o.headersTimeoutMs / 2))),
      noDelay: true,
    });
    // One more than the limit so "too many" is visible (node silently drops fields past it).
    this.server.maxHeadersCount = o.maxHeaderCount + 1;
    if (o.maxConnections > 0) this.server.maxConnections = o.maxConnections;
    // A client that half-closes after its last request (`printf ... | nc`) still gets every answer:
    // node:http otherwise aborts in-flight requests on FIN. Undocumented but stable since v0.x.
    (this.server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    this.server.on('connection', (s: net.Socket) => this.onConnection(s));
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, false));
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, true));
    this.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      this.stats.malformed++;
      const st = this.states.get(req.socket);
      if (st && this.deps.flows.enabled !== false) {
        emitHttpFlow(this.deps.flows, malformedRecord(st.flowCtx, rawFlowRequest(req), 417, 'unsupported_expectation'));
      }
      res.shouldKeepAlive = false;
      res.writeHead(417, ['content-length', '0', 'connection', 'close']).end();
      req.socket.destroySoon();
    });
    this.server.on('connect', (req: IncomingMessage, socket: net.Socket, head: Buffer) => this.onConnect(req, socket, head));
    this.server.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
  }

  /** The bound address (port resolved when 0 was asked). */
  get address(): { host: string; port: number } {
    return { host: this.deps.listen.host, port: this.port };
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(new TendrilError('TND_PROXY_LISTEN', `proxy listener ${this.deps.listen.host}:${this.deps.listen.port}: ${err.message}`, { listen: this.deps.listen }, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(this.deps.listen.port, this.deps.listen.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    this.server.on('error', (err) => this.log.error({ err }, 'proxy listener error'));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private onConnection(socket: net.Socket): void {
    this.stats.connections++;
    let target: RedirectTarget | null;
    try {
      target = this.deps.redirects.resolve(socket);
    } catch (err) {
      this.log.warn({ err }, 'redirect source failed; closing connection');
      target = null;
    }
    const st = this.attach(socket, target);
    if (st) this.states.set(socket, st);
  }

  /** Builds the per-connection state, or closes the socket when it cannot be attributed. */
  private attach(socket: net.Socket, target: RedirectTarget | null): ConnState | null {
    if (!target) {
      this.log.warn({ src: socket.remoteAddress }, 'connection has no redirect target; closing');
      socket.destroy();
      return null;
    }
    const from = target.source.endpoint ? { endpoint: target.source.endpoint } : { ip: target.source.ip };
    // Transparent mode may redirect egress to a non-endpoint (e.g. an FQDN peer): judge it by IP.
    const to = target.destination.endpoint ? { endpoint: target.destination.endpoint } : { ip: target.destination.ip };
    let policy: ConnectionPolicy;
    const query: ConnectionQuery = { from, to, port: target.destination.port, protocol: 'TCP' };
    const version = this.deps.engine.version;
    try {
      policy = this.deps.engine.connection(query);
    } catch (err) {
      this.log.error({ err }, 'BUG: policy engine threw for a connection; closing it');
      socket.destroy();
      return null;
    }
    return {
      target,
      policy,
      version,
      query,
      flowCtx: connContext(target, this.deps.describe, this.deps.nodeName, this.port),
      poolKey: target.source.endpoint ?? 'world',
      failed: false,
      receiving: null,
      pool: null,
    };
  }

  /**
   * The connection's L3/L4 verdict when it denies, else the per-request L7 judgement. Fails closed:
   * an engine bug (a throw) denies the request instead of forwarding it unjudged.
   */
  private judge(st: ConnState, facts: HttpRequestFacts): Verdict {
    try {
      const version = this.deps.engine.version;
      if (version !== st.version) {
        st.policy = this.deps.engine.connection(st.query);
        st.version = version;
      }
    } catch (err) {
      this.log.error({ err }, 'BUG: policy engine threw for a connection; denying the request');
      return { allowed: false, authRequired: false, l7: 'http', reason: 'policy engine error (request denied)' };
    }
    if (!st.policy.verdict.allowed) return st.policy.verdict;
    try {
      return st.policy.judgeHttp(facts);
    } catch (err) {
      this.log.error({ err }, 'BUG: policy engine threw while judging a request; denying it');
      return { allowed: false, authRequired: false, l7: 'http', reason: 'policy engine error (request denied)' };
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const st = this.states.get(req.socket);
    if (st === undefined) {
      req.socket.destroy();
      return;
    }
    this.handle(st, req, res, expectContinue);
  }

  private handle(st: ConnState, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const startNs = process.hrtime.bigint();
    this.stats.requests++;
    const flows = this.deps.flows;
    const emit = flows.enabled !== false;
    const v = validateRequest(req as IncomingMessage & { method: string; url: string }, this.deps.options);
    if (!v.ok) {
      this.stats.malformed++;
      st.failed = true;
      if (emit) emitHttpFlow(flows, malformedRecord(st.flowCtx, rawFlowRequest(req), v.status, v.reason));
      if (this.log.isLevelEnabled('debug')) this.log.debug({ reason: v.reason, status: v.status }, 'request rejected by hardened parser');
      sendProxyResponse(res, v.status, true);
      return;
    }
    const fr: FlowRequest | null = emit ? flowRequest(v, req) : null;
    const verdict = this.judge(st, v.facts);
    if (fr) emitHttpFlow(flows, requestRecord(st.flowCtx, fr, verdict));
    if (!verdict.allowed) {
      this.stats.denied++;
      const bodyDone = req.complete || (!expectContinue && !v.chunked && (v.contentLength ?? 0) <= DRAIN_LIMIT_BYTES);
      sendProxyResponse(res, 403, !bodyDone);
      if (fr) emitHttpFlow(flows, responseRecord(st.flowCtx, fr, 403, Number(process.hrtime.bigint() - startNs), { verdict: 'DROPPED', reason: verdict.reason }));
      return;
    }
    if (expectContinue) res.writeContinue();
    // llhttp stops parsing after a request that asked for a protocol switch; since we never switch
    // (Upgrade is stripped), end the connection after this response so nothing hangs or slips by.
    if (req.headers.upgrade !== undefined) res.shouldKeepAlive = false;
    const t = st.target.upstream;
    st.pool ??= this.deps.pools.get(t.host, t.port, st.poolKey);
    const handle = forwardRequest(st.pool, req, res, v, startNs, (o) => {
      if (o.kind === 'response') {
        this.stats.forwarded++;
        if (fr) emitHttpFlow(flows, responseRecord(st.flowCtx, fr, o.status, o.latencyNs, { verdict: 'FORWARDED' }));
        return;
      }
      if (o.kind === 'aborted') {
        if (fr) emitHttpFlow(flows, responseRecord(st.flowCtx, fr, 0, o.latencyNs, { verdict: 'ERROR', reason: 'client_aborted' }));
        return;
      }
      if (o.failure.status < 500) this.stats.malformed++; // the client's own body was malformed
      else this.stats.upstreamErrors++;
      if (!o.answered) sendProxyResponse(res, o.failure.status, !req.complete);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ reason: o.failure.reason, status: o.failure.status }, 'upstream failure');
      if (fr) emitHttpFlow(flows, responseRecord(st.flowCtx, fr, o.answered ? res.statusCode : o.failure.status, o.latencyNs, { verdict: 'ERROR', reason: o.failure.reason }));
    });
    // A body-less request (no Content-Length / 0, not chunked) has nothing left to receive; llhttp
    // completes it in the same parse step, so a later parse error belongs to the next request.
    if (!req.complete && (v.chunked || (v.contentLength ?? 0) > 0)) {
      const receiving = { req, handle };
      st.receiving = receiving;
      req.once('end', () => {
        if (st.receiving === receiving) st.receiving = null;
      });
    }
  }

  /**
   * A request asking for a protocol switch (node:http hands over the raw socket): validated and
   * judged exactly like any request; WebSocket tunnels only after the upstream's 101; anything
   * else (h2c) is answered as a plain request and the connection closed. See upgrade.ts.
   */
  private onUpgrade(req: IncomingMessage, socket: net.Socket, head: Buffer): void {
    const st = this.states.get(socket);
    if (!st) {
      socket.destroy();
      return;
    }
    const startNs = process.hrtime.bigint();
    this.stats.requests++;
    const flows = this.deps.flows;
    const emit = flows.enabled !== false;
    socket.on('error', () => undefined);
    const v = validateRequest(req as IncomingMessage & { method: string; url: string }, this.deps.options);
    if (!v.ok || v.chunked || (v.contentLength ?? 0) > 0) {
      const status = v.ok ? 400 : v.status;
      const reason = v.ok ? 'upgrade_with_body' : v.reason;
      this.stats.malformed++;
      if (emit) emitHttpFlow(flows, malformedRecord(st.flowCtx, rawFlowRequest(req), status, reason));
      writeRawResponse(socket, status);
      return;
    }
    const fr: FlowRequest | null = emit ? flowRequest(v, req) : null;
    const verdict = this.judge(st, v.facts);
    if (fr) emitHttpFlow(flows, requestRecord(st.flowCtx, fr, verdict));
    if (!verdict.allowed) {
      this.stats.denied++;
      writeRawResponse(socket, 403);
      if (fr) emitHttpFlow(flows, responseRecord(st.flowCtx, fr, 403, Number(process.hrtime.bigint() - startNs), { verdict: 'DROPPED', reason: verdict.reason }));
      return;
    }
    const done = (o: UpgradeOutcome): void => {
      if (o.kind === 'response') this.stats.forwarded++;
      else this.stats.upstreamErrors++;
      if (!fr) return;
      if (o.kind === 'response') emitHttpFlow(flows, responseRecord(st.flowCtx, fr, o.status, o.latencyNs, { verdict: 'FORWARDED' }));
      else emitHttpFlow(flows, responseRecord(st.flowCtx, fr, o.failure.status, o.latencyNs, { verdict: 'ERROR', reason: o.failure.reason }));
    };
    const o = this.deps.options;
    if (isWebSocketUpgrade(v.method, req.headers.upgrade, v)) {
      tunnelWebSocket(socket, head, v, st.target.upstream, { connectMs: o.upstreamConnectTimeoutMs, responseMs: o.upstreamResponseTimeoutMs }, startNs, done);
      return;
    }
    const t = st.target.upstream;
    forwardWithoutUpgrade(socket, this.deps.pools.get(t.host, t.port, st.poolKey), v, startNs, done);
  }

  /** CONNECT: judged like a request (method CONNECT, path = authority); tunnels only when allowed. */
  private onConnect(req: IncomingMessage, socket: net.Socket, head: Buffer): void {
    const st = this.states.get(socket);
    if (!st) {
      socket.destroy();
      return;
    }
    this.stats.requests++;
    const authority = req.url ?? '';
    const host = typeof req.headers.host === 'string' ? req.headers.host : authority;
    const fr: FlowRequest = { method: 'CONNECT', url: authority, protocol: `HTTP/${req.httpVersion}` };
    const facts = { method: 'CONNECT', path: authority, host, headers: { host } };
    const verdict = this.judge(st, facts);
    const emit = this.deps.flows.enabled !== false;
    if (emit) emitHttpFlow(this.deps.flows, requestRecord(st.flowCtx, fr, verdict));
    if (!verdict.allowed) {
      this.stats.denied++;
      writeRawResponse(socket, 403);
      return;
    }
    let connected = false;
    const up = net.connect(st.target.upstream.port, st.target.upstream.host, () => {
      connected = true;
      up.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on('error', () => {
      if (!connected) writeRawResponse(socket, 503); // ends the client after the answer
      else socket.destroy();
    });
    up.on('close', () => {
      if (connected) socket.destroy();
    });
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
  }

  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    const st = this.states.get(socket);
    const state = st ?? null;
    if (err.code === 'HPE_CLOSED_CONNECTION') {
      // Bytes after `Connection: close` (RFC 9112 sec. 9.6): answer the request in flight, drop the rest.
      const pending = (socket as net.Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (!pending) socket.destroy();
      return;
    }
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (state?.failed) {
      socket.destroy();
      return;
    }
    if (state) state.failed = true;
    const status = clientErrorStatus(err.code);
    const receiving = state?.receiving;
    if (!(receiving && !receiving.req.complete)) this.stats.malformed++;
    if (receiving && !receiving.req.complete) {
      // The body of a request already being forwarded is malformed: abort the upstream request
      // (never leave it holding half a request) and answer 400 if nothing was sent yet.
      state!.receiving = null;
      if (this.log.isLevelEnabled('debug')) this.log.debug({ code: err.code, status }, 'request body rejected by llhttp mid-stream');
      receiving.handle.abortBody(status, `client_body_malformed:${err.code ?? 'parse_error'}`);
      return;
    }
    if (state && this.deps.flows.enabled !== false) {
      emitHttpFlow(this.deps.flows, malformedRecord(state.flowCtx, { method: '', url: '', protocol: 'HTTP/1.1' }, status, err.code ?? 'parse_error'));
    }
    if (this.log.isLevelEnabled('debug')) this.log.debug({ code: err.code, status }, 'client request rejected by llhttp');
    const pending = (socket as net.Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (pending && !pending.writableFinished) {
      // Answer in order: the error response follows the response still being written.
      pending.once('finish', () => writeRawResponse(socket, status));
      pending.once('close', () => socket.destroy());
      return;
    }
    writeRawResponse(socket, status);
  }
}

function clientErrorStatus(code: string | undefined): number {
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

function flowRequest(v: ValidRequest, req: IncomingMessage): FlowRequest {
  return { method: v.method, url: `http://${v.host}${v.target === '*' ? '' : v.target}`, protocol: `HTTP/${req.httpVersion}` };
}

/** For rejected requests: what was sent, as far as node:http parsed it (never used for decisions). */
function rawFlowRequest(req: IncomingMessage): FlowRequest {
  return { method: req.method ?? '', url: req.url ?? '', protocol: `HTTP/${req.httpVersion}` };
}
