/**
 * The outbound side of the node-to-node tunnel (docs/identity.md "The tunnel"): one HTTP/2
 * session per (source SVID, destination ID, peer node) inside TLS 1.3, the source pod's SVID as
 * client certificate, SNI naming the destination identity, and the server accepted only when
 * its chain passes every SVID check and its ID is exactly the expected destination ID. Each
 * connection is one CONNECT stream; only a 200 answer means the tunnel is up (in TLS 1.3 the
 * client learns of a refused client certificate only after its own handshake completed).
 * Sessions are never resumed and are closed at the earlier notAfter of the two leaves; a rotated
 * source SVID gets a new session while streams on the old one run until they end.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { verifySvid, type Svid, type SvidStore } from '../../identity/index.js';
import { ContextCache, sniFor, TLS_BASE } from './tls.js';
import type { TunnelEvent } from './events.js';

export class TunnelError extends Error {
  override name = 'TunnelError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface OpenStream {
  /** The source pod's SVID (client certificate). */
  source: Svid;
  /** The exact SPIFFE ID the server must present. */
  destinationId: string;
  /** The destination node's tunnel listener. */
  peer: { host: string; port: number };
  /** Original destination ip:port (`:authority`). */
  authority: string;
  /** Original source ip:port (`forwarded: for=`). */
  forwardedFor: string;
  timeoutMs?: number;
}

interface PooledSession {
  session: http2.ClientHttp2Session;
  ready: Promise<void>;
  local: string;
  peer: string;
  peerAddr: string;
  streams: number;
  timer?: NodeJS.Timeout;
}

export class TunnelClient {
  private readonly pool = new Map<string, PooledSession>();
  private readonly contexts: ContextCache;
  handshakes = 0;
  handshakeFailures = 0;

  constructor(private readonly store: SvidStore, private readonly onEvent?: (e: TunnelEvent) => void) {
    this.contexts = new ContextCache(store);
  }

  /** Opens one CONNECT stream; resolves once the server answered 200. */
  async open(o: OpenStream): Promise<Duplex> {
    const s = await this.session(o);
    const req = s.session.request(
      { ':method': 'CONNECT', ':authority': o.authority, forwarded: `for="${o.forwardedFor}"` },
      { endStream: false },
    );
    s.streams++;
    req.once('close', () => s.streams--);
    return await new Promise<Duplex>((resolve, reject) => {
      const fail = (err: Error): void => {
        req.destroy();
        reject(err);
      };
      req.once('response', (headers) => {
        const status = Number(headers[':status']);
        if (status === 200) resolve(req);
        else fail(new TunnelError(`HTTP_${status}`, `tunnel refused the stream with ${status}: ${String(headers['x-tendril-reason'] ?? '')}`));
      });
      req.once('error', (err: Error) => fail(new TunnelError('STREAM_ERROR', err.message)));
      req.once('close', () => fail(new TunnelError('STREAM_CLOSED', 'tunnel stream closed before the answer')));
    });
  }

  /** Open sessions (for status). */
  sessions(): { local: string; peer: string; node: string; streams: number }[] {
    return [...this.pool.values()].map((s) => ({ local: s.local, peer: s.peer, node: s.peerAddr, streams: s.streams }));
  }

  close(): void {
    for (const s of this.pool.values()) {
      if (s.timer) clearTimeout(s.timer);
      s.session.destroy();
    }
    this.pool.clear();
  }

  private session(o: OpenStream): Promise<PooledSession> {
    const peerAddr = `${o.peer.host}:${o.peer.port}`;
    const key = `${o.source.spiffeId}|${o.source.serial}|${o.destinationId}|${peerAddr}`;
    const have = this.pool.get(key);
    if (have && !have.session.closed && !have.session.destroyed) return have.ready.then(() => have);
    const started = performance.now();
    let serverNotAfter = 0;
    let verifyFailure: TunnelError | null = null;
    const session = http2.connect(`https://${peerAddr}`, {
      createConnection: () =>
        tls.connect({
          ...TLS_BASE,
          host: o.peer.host,
          port: o.peer.port,
          servername: sniFor(o.destinationId),
          // The source SVID as client certificate and every root for OpenSSL's part, in a
          // SecureContext cached per (SVID serial, bundle version).
          secureContext: this.contexts.get(o.source),
          rejectUnauthorized: true,
          checkServerIdentity: (_host, cert) => {
            const chain: X509Certificate[] = [];
            let c: tls.DetailedPeerCertificate | undefined = cert as tls.DetailedPeerCertificate;
            const seen = new Set<string>();
            while (c && c.raw && !seen.has(c.fingerprint256)) {
              seen.add(c.fingerprint256);
              chain.push(new X509Certificate(c.raw));
              c = c.issuerCertificate;
            }
            const r = verifySvid({ chain, bundles: this.store.bundles, role: 'server', expect: o.destinationId });
            if (!r.ok) {
              verifyFailure = new TunnelError(r.code, r.reason);
              return verifyFailure;
            }
            serverNotAfter = r.notAfter.getTime();
            return undefined;
          },
        }),
    });
    const pooled: PooledSession = { session, local: o.source.spiffeId, peer: o.destinationId, peerAddr, streams: 0, ready: Promise.resolve() };
    pooled.ready = new Promise<void>((resolve, reject) => {
      const onErr = (err: Error & { code?: string }): void => {
        this.pool.delete(key);
        this.handshakeFailures++;
        const e = verifyFailure ?? new TunnelError(err.code ?? 'HANDSHAKE_FAILED', err.message);
        this.onEvent?.({ kind: 'handshake', side: 'client', ok: false, local: o.source.spiffeId, peer: o.destinationId, remote: peerAddr, code: e.code, reason: e.message });
        reject(e);
      };
      session.once('error', onErr);
      session.once('connect', () => {
        session.off('error', onErr);
        session.on('error', () => undefined);
        this.handshakes++;
        this.onEvent?.({ kind: 'handshake', side: 'client', ok: true, local: o.source.spiffeId, peer: o.destinationId, remote: peerAddr, durationMs: performance.now() - started });
        const end = Math.min(serverNotAfter || o.source.notAfter.getTime(), o.source.notAfter.getTime());
        pooled.timer = setTimeout(() => {
          this.onEvent?.({ kind: 'session-closed', side: 'client', reason: 'expiry', local: pooled.local, peer: pooled.peer });
          this.pool.delete(key);
          session.destroy();
        }, Math.max(0, Math.min(end - Date.now(), 2 ** 31 - 1)));
        pooled.timer.unref();
        resolve();
      });
    });
    session.once('close', () => {
      if (pooled.timer) clearTimeout(pooled.timer);
      if (this.pool.get(key) === pooled) this.pool.delete(key);
    });
    this.pool.set(key, pooled);
    return pooled.ready.then(() => pooled);
  }
}
