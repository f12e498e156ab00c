/**
 * The inbound side of the node-to-node tunnel (docs/identity.md "The tunnel"): TLS 1.3 mTLS on
 * TCP 15008 with HTTP/2 CONNECT streams. The server presents the destination pod's SVID, chosen
 * by SNI; it verifies the client's SVID (every check of identity/verify.ts, with the anchor in
 * the client's own trust domain) before answering any stream, and for each stream:
 *   - the method is CONNECT and `:authority` is ip:port of a local endpoint whose SPIFFE ID is
 *     the identity served on this session, else 400;
 *   - the claimed original source (`forwarded: for=<ip>`), when it is an endpoint, has the
 *     namespace and service account of the client's verified SPIFFE ID, else 401;
 *   - the stream is handed to the HTTP listener of that destination with
 *     `target.authenticated` set, or piped to the destination over TCP (200 only once the
 *     upstream connection is up, 503 otherwise).
 * Sessions end at the earlier notAfter of the two leaves. No session tickets (no resumption).
 */
import http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import { Duplex } from 'node:stream';
import { constants } from 'node:crypto';
import type { Logger } from 'pino';
import { namespaceAndServiceAccount, parseSpiffeId, verifySvid, workloadId, type Svid, type SvidStore } from '../../identity/index.js';
import type { RedirectTarget } from '../redirect-source.js';
import { ContextCache, sniFor, TLS_BASE, TUNNEL_SUFFIX, presentedChain, rootsPem } from './tls.js';
import type { TunnelEvent } from './events.js';

export interface TunnelEndpoint {
  /** `<namespace>/<pod>`. */
  endpoint: string;
  namespace: string;
  serviceAccount: string;
}

export interface StreamAcceptor {
  acceptStream(stream: Duplex, target: RedirectTarget): void;
}

export interface TunnelServerDeps {
  listen: { host: string; port: number };
  store: SvidStore;
  trustDomain: string;
  /** Endpoints on this node, by IP. */
  localEndpoint: (ip: string) => TunnelEndpoint | null;
  /** Any endpoint (this node or another), by IP: whom a `forwarded` claim names. */
  endpointByIp: (ip: string) => TunnelEndpoint | null;
  /** The HTTP listener for a destination, or null to pipe the stream to it over TCP. */
  route: (target: RedirectTarget) => StreamAcceptor | null;
  /**
   * L3/L4 judgement for a stream that no HTTP listener takes (piped over TCP): null allows,
   * a string denies with that reason (401). A destination port with L7 rules must be denied
   * here, since nothing would enforce them.
   */
  judgeL4?: (target: RedirectTarget) => string | null;
  onEvent?: (e: TunnelEvent) => void;
  log: Logger;
}

interface SessionInfo {
  local: string;
  peer: string;
  peerNamespace: string | null;
  peerServiceAccount: string | null;
}

export interface TunnelServerStats {
  sessions: number;
  streams: number;
  refused: number;
  handshakeFailures: number;
}

export class TunnelServer {
  private readonly server: http2.Http2SecureServer;
  private readonly contexts: ContextCache;
  private readonly sessions = new WeakMap<object, SessionInfo>();
  private readonly open = new Set<http2.ServerHttp2Session>();
  readonly stats: TunnelServerStats = { sessions: 0, streams: 0, refused: 0, handshakeFailures: 0 };
  private port = 0;

  constructor(private readonly deps: TunnelServerDeps) {
    this.contexts = new ContextCache(deps.store);
    this.server = http2.createSecureServer({
      ...TLS_BASE,
      requestCert: true,
      rejectUnauthorized: true,
      secureOptions: constants.SSL_OP_NO_TICKET,
      allowHTTP1: false,
      SNICallback: (name, cb) => {
        const svid = this.svidForSni(name);
        if (!svid) {
          this.failure(null, null, 'UNKNOWN_SNI', `no local identity for SNI ${name}`);
          cb(new Error(`no local identity for SNI ${name}`));
          return;
        }
        cb(null, this.contexts.get(svid));
      },
    });
    this.server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      this.failure(null, socket, err.code ?? 'TLS_ERROR', err.message);
    });
    this.server.on('session', (session) => this.onSession(session));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  get address(): { host: string; port: number } {
    return { host: this.deps.listen.host, port: this.port };
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.deps.listen.port, this.deps.listen.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Identities served and open sessions, for status. */
  status(): { listen: string; sessions: { local: string; peer: string }[]; stats: TunnelServerStats } {
    const sessions: { local: string; peer: string }[] = [];
    for (const s of this.open) {
      const i = this.sessions.get(s);
      if (i) sessions.push({ local: i.local, peer: i.peer });
    }
    return { listen: `${this.address.host}:${this.address.port}`, sessions, stats: this.stats };
  }

  private svidForSni(name: string): Svid | undefined {
    if (!name.endsWith(TUNNEL_SUFFIX)) return undefined;
    for (const s of this.deps.store.list()) if (sniFor(s.spiffeId) === name) return this.deps.store.get(s.spiffeId);
    return undefined;
  }

  private failure(local: string | null, socket: tls.TLSSocket | null, code: string, reason: string): void {
    this.stats.handshakeFailures++;
    this.deps.onEvent?.({ kind: 'handshake', side: 'server', ok: false, local: local ?? '', peer: null, remote: socket ? `${socket.remoteAddress}:${socket.remotePort}` : '', code, reason });
    this.deps.log.warn({ code, reason }, 'tunnel handshake refused');
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const socket = session.socket as tls.TLSSocket;
    const servername = (socket as tls.TLSSocket & { servername?: string | false }).servername;
    const served = typeof servername === 'string' ? this.svidForSni(servername) : undefined;
    if (!served) {
      this.failure(null, socket, 'UNKNOWN_SNI', 'session without a served identity');
      session.destroy();
      return;
    }
    // OpenSSL verified the path against all roots; now every SVID rule and the anchor of the
    // client's own trust domain, before any stream is answered.
    const result = verifySvid({ chain: presentedChain(socket), bundles: this.deps.store.bundles, role: 'client' });
    if (!result.ok) {
      this.failure(served.spiffeId, socket, result.code, result.reason);
      session.destroy();
      return;
    }
    const nsSa = namespaceAndServiceAccount(parseSpiffeId(result.spiffeId));
    const info: SessionInfo = {
      local: served.spiffeId,
      peer: result.spiffeId,
      peerNamespace: nsSa?.namespace ?? null,
      peerServiceAccount: nsSa?.serviceAccount ?? null,
    };
    this.sessions.set(session, info);
    this.open.add(session);
    this.stats.sessions++;
    this.deps.onEvent?.({ kind: 'handshake', side: 'server', ok: true, local: info.local, peer: info.peer, remote: `${socket.remoteAddress}:${socket.remotePort}`, durationMs: 0 });
    // Close at the earlier expiry of the two leaves.
    const end = Math.min(result.notAfter.getTime(), served.notAfter.getTime());
    const timer = setTimeout(() => {
      this.deps.onEvent?.({ kind: 'session-closed', side: 'server', reason: 'expiry', local: info.local, peer: info.peer });
      session.destroy();
    }, Math.max(0, Math.min(end - Date.now(), 2 ** 31 - 1)));
    timer.unref();
    session.on('close', () => {
      clearTimeout(timer);
      this.open.delete(session);
    });
    session.on('error', () => undefined);
  }

  private refuse(stream: http2.ServerHttp2Stream, status: number, reason: string, info: SessionInfo | undefined, authority: string, source: string | null): void {
    this.stats.refused++;
    this.deps.onEvent?.({ kind: 'stream-refused', status, reason, peer: info?.peer ?? '', authority, source });
    if (!stream.destroyed && !stream.headersSent) stream.respond({ ':status': status, 'x-tendril-reason': reason }, { endStream: true });
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const info = this.sessions.get(stream.session as object);
    const authority = String(headers[':authority'] ?? '');
    const forwarded = String(headers['forwarded'] ?? '');
    const claimed = /(?:^|;|,)\s*for="?([0-9.]+)(?::(\d+))?"?/i.exec(forwarded);
    const srcIp = claimed?.[1] ?? null;
    if (!info) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (headers[':method'] !== 'CONNECT') return this.refuse(stream, 400, 'not a CONNECT request', info, authority, srcIp);
    const m = /^([0-9.]+):(\d{1,5})$/.exec(authority);
    if (!m) return this.refuse(stream, 400, `authority ${JSON.stringify(authority)} is not ip:port`, info, authority, srcIp);
    const [, dstIp, dstPortText] = m as unknown as [string, string, string];
    const dstPort = Number(dstPortText);
    const dst = this.deps.localEndpoint(dstIp);
    if (!dst) return this.refuse(stream, 400, `${dstIp} is not an endpoint on this node`, info, authority, srcIp);
    const dstId = workloadId(this.deps.trustDomain, dst.namespace, dst.serviceAccount);
    if (dstId !== info.local) return this.refuse(stream, 400, `${dst.endpoint} is ${dstId}, this session serves ${info.local}`, info, authority, srcIp);
    let source: TunnelEndpoint | null = null;
    if (srcIp) {
      source = this.deps.endpointByIp(srcIp);
      if (source && (source.namespace !== info.peerNamespace || source.serviceAccount !== info.peerServiceAccount)) {
        return this.refuse(stream, 401, `source ${source.endpoint} is ${source.namespace}/${source.serviceAccount}, the client certificate is ${info.peer}`, info, authority, srcIp);
      }
    }
    if (!srcIp || !source) return this.refuse(stream, 401, 'the claimed source is not an endpoint (forwarded: for=<pod ip>)', info, authority, srcIp);
    const target: RedirectTarget = {
      source: { ip: srcIp, port: Number(claimed?.[2] ?? 0), endpoint: source.endpoint },
      destination: { ip: dstIp, port: dstPort, endpoint: dst.endpoint },
      upstream: { host: dstIp, port: dstPort },
      authenticated: { type: 'SPIRE', spiffeId: info.peer },
    };
    this.stats.streams++;
    this.deps.onEvent?.({ kind: 'stream', peer: info.peer, authority, source: source.endpoint });
    const acceptor = this.deps.route(target);
    if (acceptor) {
      stream.respond({ ':status': 200 });
      acceptor.acceptStream(streamAsConnection(stream, dstIp, dstPort, srcIp, target.source.port), target);
      return;
    }
    const denied = this.deps.judgeL4 ? this.deps.judgeL4(target) : 'no policy judge for streams without an HTTP listener';
    if (denied !== null) return this.refuse(stream, 401, denied, info, authority, srcIp);
    const up = net.connect({ host: dstIp, port: dstPort });
    up.once('connect', () => {
      stream.respond({ ':status': 200 });
      stream.pipe(up);
      up.pipe(stream);
    });
    up.once('error', (err) => {
      if (!stream.headersSent) this.refuse(stream, 503, `upstream ${authority}: ${err.message}`, info, authority, srcIp);
      else stream.destroy();
    });
    stream.once('close', () => up.destroy());
  }

  /** PEM of every root (exposed for tests and the client). */
  roots(): string {
    return rootsPem(this.deps.store);
  }
}

/**
 * An HTTP/2 stream dressed as the connection node:http expects: data is copied on write (the
 * HTTP/1.1 writer reuses its header buffers), and the socket-like members node:http touches
 * (setTimeout, setNoDelay, setKeepAlive, addresses) are present.
 */
function streamAsConnection(stream: http2.ServerHttp2Stream, localIp: string, localPort: number, remoteIp: string, remotePort: number): Duplex {
  const conn = new Duplex({
    allowHalfOpen: true,
    read() {
      stream.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      stream.write(Buffer.from(chunk), cb);
    },
    final(cb) {
      stream.end();
      cb();
    },
    destroy(err, cb) {
      stream.destroy(err ?? undefined);
      cb(err);
    },
  });
  stream.on('data', (d: Buffer) => {
    if (!conn.push(d)) stream.pause();
  });
  stream.once('end', () => conn.push(null));
  stream.once('close', () => conn.destroy());
  Object.assign(conn, {
    remoteAddress: remoteIp,
    remotePort,
    remoteFamily: 'IPv4',
    localAddress: localIp,
    localPort,
    encrypted: true,
    setTimeout(ms: number, cb?: () => void) {
      stream.setTimeout(ms, cb ? () => cb() : () => conn.emit('timeout'));
      return conn;
    },
    setNoDelay() {
      return conn;
    },
    setKeepAlive() {
      return conn;
    },
  });
  return conn;
}
