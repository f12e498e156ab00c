/**
 * The outbound side on the source node (docs/identity.md "The tunnel"): a listener for
 * connections to endpoints on other nodes. Each accepted connection is attributed (the same
 * RedirectSource contract as the HTTP listener), then carried as one CONNECT stream through the
 * tunnel with the source pod's SVID; the destination node's proxy judges it (L3/L4 and L7) on
 * the verified identity. A source pod without a valid SVID, an unknown destination node or a
 * refused handshake or stream closes the connection (a reset) and is a DROPPED flow with
 * AUTH_REQUIRED: there is no plaintext fallback.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { workloadId, type SvidStore } from '../../identity/index.js';
import { newFlow, type FlowSink } from '../../observe/index.js';
import type { RedirectSource, RedirectTarget } from '../redirect-source.js';
import type { TunnelClient } from './client.js';
import type { DescribeEndpoint } from '../flows.js';

export interface OutboundEndpoint {
  namespace: string;
  serviceAccount: string;
}

export interface TunnelOutboundDeps {
  listen: { host: string; port: number };
  redirects: RedirectSource;
  store: SvidStore;
  client: TunnelClient;
  trustDomain: string;
  /** `<namespace>/<pod>` → its namespace and service account. */
  endpoint: (id: string) => OutboundEndpoint | null;
  /**
   * True when a destination endpoint runs on this node: no tunnel authenticates same-node
   * traffic, so such a connection is refused (docs/identity.md "Same-node traffic").
   */
  isLocal?: (destinationEndpoint: string) => boolean;
  /**
   * True when the policy allows this connection without authentication (a datapath redirect is
   * per destination and port, not per source): it is then passed to `target.upstream` as plain
   * TCP, exactly as without the redirect. Absent: every connection needs the tunnel.
   */
  plaintextAllowed?: (target: RedirectTarget) => boolean;
  /** The tunnel listener of the node hosting a destination endpoint, or null. */
  peerFor: (destinationEndpoint: string) => { host: string; port: number } | null;
  flows: FlowSink;
  describe: DescribeEndpoint;
  nodeName: string;
  log: Logger;
}

export interface TunnelOutboundStats {
  connections: number;
  tunnelled: number;
  refused: number;
}

export class TunnelOutbound {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  readonly stats: TunnelOutboundStats = { connections: 0, tunnelled: 0, refused: 0 };
  /** Connections passed as plain TCP (`plaintextAllowed`). */
  plaintext = 0;
  private port = 0;

  constructor(private readonly deps: TunnelOutboundDeps) {
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.onConnection(s));
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
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private flow(t: RedirectTarget, verdict: 'FORWARDED' | 'DROPPED', summary: string, authenticated: boolean): void {
    if (this.deps.flows.enabled === false) return;
    this.deps.flows.emit(
      newFlow({
        verdict,
        ...(verdict === 'DROPPED' ? { drop_reason_desc: 'AUTH_REQUIRED' as const } : {}),
        ...(authenticated ? { auth_type: 'SPIRE' as const } : {}),
        IP: { source: t.source.ip, destination: t.destination.ip, ipVersion: 'IPv4' },
        l4: { TCP: { source_port: t.source.port, destination_port: t.destination.port } },
        source: this.deps.describe(t.source.endpoint, t.source.ip),
        destination: this.deps.describe(t.destination.endpoint, t.destination.ip),
        traffic_direction: 'EGRESS',
        node_name: this.deps.nodeName,
        Summary: summary,
      }),
    );
  }

  private refuse(socket: net.Socket, t: RedirectTarget, reason: string): void {
    this.stats.refused++;
    this.flow(t, 'DROPPED', `Authentication required: ${reason}`, false);
    this.deps.log.info({ src: t.source.endpoint, dst: t.destination.endpoint, reason }, 'tunnel refused a connection');
    socket.resetAndDestroy();
  }

  private passPlain(socket: net.Socket, target: RedirectTarget): void {
    const up = net.connect({ host: target.upstream.host, port: target.upstream.port });
    up.on('error', () => socket.resetAndDestroy());
    socket.on('error', () => up.destroy());
    up.once('close', () => socket.destroy());
    socket.once('close', () => up.destroy());
    up.once('connect', () => {
      this.plaintext++;
      this.flow(target, 'FORWARDED', 'TCP allowed without authentication: not tunnelled', false);
      socket.pipe(up);
      up.pipe(socket);
      socket.resume();
    });
  }

  private onConnection(socket: net.Socket): void {
    this.stats.connections++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let t: RedirectTarget | null = null;
    try {
      t = this.deps.redirects.resolve(socket);
    } catch (err) {
      this.deps.log.warn({ err }, 'redirect source failed; closing connection');
    }
    if (!t) {
      socket.destroy();
      return;
    }
    const target = t;
    if (this.deps.plaintextAllowed?.(target)) return this.passPlain(socket, target);
    const src = target.source.endpoint ? this.deps.endpoint(target.source.endpoint) : null;
    if (!src) return this.refuse(socket, target, `source ${target.source.ip} is not a pod: only pods have SVIDs`);
    const srcId = workloadId(this.deps.trustDomain, src.namespace, src.serviceAccount);
    const svid = this.deps.store.get(srcId);
    if (!svid) return this.refuse(socket, target, `source ${target.source.endpoint} has no valid SVID (${srcId})`);
    if (target.destination.endpoint && this.deps.isLocal?.(target.destination.endpoint)) {
      return this.refuse(socket, target, `destination ${target.destination.endpoint} is on this node: no tunnel authenticates same-node traffic`);
    }
    const dst = target.destination.endpoint ? this.deps.endpoint(target.destination.endpoint) : null;
    const peer = target.destination.endpoint ? this.deps.peerFor(target.destination.endpoint) : null;
    if (!dst || !peer) return this.refuse(socket, target, `destination ${target.destination.endpoint ?? target.destination.ip} is not a pod on a known node`);
    const dstId = workloadId(this.deps.trustDomain, dst.namespace, dst.serviceAccount);
    this.deps.client
      .open({
        source: svid,
        destinationId: dstId,
        peer,
        authority: `${target.destination.ip}:${target.destination.port}`,
        forwardedFor: `${target.source.ip}:${target.source.port}`,
      })
      .then(
        (stream) => {
          if (socket.destroyed) {
            stream.destroy();
            return;
          }
          this.stats.tunnelled++;
          this.flow(target, 'FORWARDED', `TCP via mTLS tunnel ${svid.spiffeId} -> ${dstId}`, true);
          stream.on('error', () => socket.destroy());
          socket.on('error', () => stream.destroy());
          stream.once('close', () => socket.destroy());
          socket.once('close', () => stream.destroy());
          socket.pipe(stream);
          stream.pipe(socket);
          socket.resume();
        },
        (err: Error & { code?: string }) => this.refuse(socket, target, `${err.code ?? 'TUNNEL'}: ${err.message}`),
      );
  }
}
