/**
 * One HTTP/1.1 proxy listener (one redirect) on raw sockets: accept, attribute the connection
 * (RedirectSource -> source identity + original destination), ask the policy engine once per
 * connection, then serve it with a ClientConn (client-conn.ts): llhttp strict parsing, hardened
 * validation, ONE judge point per request (`judge` below), and the reply strategies.
 *
 * `acceptStream` serves a connection that arrives already attributed (e.g. the mTLS tunnel hands
 * over a decrypted Duplex with its RedirectTarget): judged exactly like an accepted socket whose
 * `resolve()` returned that target.
 *
 * Timeouts (headers, request, keep-alive idle) are checked by one sweep per listener over its
 * connections, as node:http's connection list does, instead of a timer per connection.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { FlowSink } from '../../observe/index.js';
import type { ConnectionPolicy, ConnectionQuery, HttpRequestFacts, PolicyEngine, Verdict } from '../../policy/api.js';
import { TendrilError } from '../../core/index.js';
import { connContext, type DescribeEndpoint } from '../flows.js';
import type { ProxyOptions } from '../options.js';
import type { RedirectSource, RedirectTarget } from '../redirect-source.js';
import { gateAuthentication } from '../auth-gate.js';
import { ClientConn } from './client-conn.js';
import type { HttpListenerStats, JudgedConnection, ListenerContext } from './listener-context.js';
import type { UpstreamPools } from './upstream-conn.js';

export type { HttpListenerStats } from './listener-context.js';

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

export class HttpListener implements ListenerContext {
  readonly stats: HttpListenerStats = { connections: 0, requests: 0, denied: 0, malformed: 0, forwarded: 0, upstreamErrors: 0 };
  readonly options: ProxyOptions;
  readonly flows: FlowSink;
  readonly pools: UpstreamPools;
  private readonly server: net.Server;
  private readonly conns = new Set<ClientConn>();
  private readonly log: Logger;
  private readonly debugOn: boolean;
  private sweepTimer: NodeJS.Timeout | null = null;
  private port = 0;

  constructor(private readonly deps: HttpListenerDeps) {
    this.options = deps.options;
    this.flows = deps.flows;
    this.pools = deps.pools;
    this.log = deps.log.child({ component: 'proxy.http', listen: `${deps.listen.host}:${deps.listen.port}` });
    this.debugOn = this.log.isLevelEnabled('debug');
    // allowHalfOpen: a client that half-closes after its last request (`printf ... | nc`) still gets every answer.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.onSocket(s));
    if (deps.options.maxConnections > 0) this.server.maxConnections = deps.options.maxConnections;
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
    const o = this.options;
    const every = Math.max(100, Math.min(1000, Math.floor(Math.min(o.headersTimeoutMs, o.idleTimeoutMs) / 2)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of [...this.conns]) c.socket.destroy();
    this.conns.clear();
    await closed;
  }

  /** Serves HTTP/1.1 on an already attributed stream (not necessarily a net.Socket). */
  acceptStream(stream: Duplex, target: RedirectTarget): void {
    this.stats.connections++;
    this.attach(stream, target);
  }

  private onSocket(socket: net.Socket): void {
    this.stats.connections++;
    let target: RedirectTarget | null;
    try {
      target = this.deps.redirects.resolve(socket);
    } catch (err) {
      this.log.warn({ err }, 'redirect source failed; closing connection');
      target = null;
    }
    this.attach(socket, target);
  }

  /** Builds the per-connection state, or closes the stream when it cannot be attributed. */
  private attach(stream: Duplex, target: RedirectTarget | null): void {
    if (!target) {
      this.log.warn({ src: (stream as Partial<net.Socket>).remoteAddress }, 'connection has no redirect target; closing');
      stream.destroy();
      return;
    }
    const from = target.source.endpoint ? { endpoint: target.source.endpoint } : { ip: target.source.ip };
    // Transparent mode may redirect egress to a non-endpoint (e.g. an FQDN peer): judge it by IP.
    const to = target.destination.endpoint ? { endpoint: target.destination.endpoint } : { ip: target.destination.ip };
    let policy: ConnectionPolicy;
    const query: ConnectionQuery = { from, to, port: target.destination.port, protocol: 'TCP' };
    const version = this.deps.engine.version;
    try {
      policy = gateAuthentication(this.deps.engine.connection(query), target);
    } catch (err) {
      this.log.error({ err }, 'BUG: policy engine threw for a connection; closing it');
      stream.destroy();
      return;
    }
    const conn = new ClientConn(this, stream, target, policy, connContext(target, this.deps.describe, this.deps.nodeName, this.port), query, version);
    this.conns.add(conn);
  }

  /**
   * THE judge point, once per request (plain, Upgrade, CONNECT): the connection's L3/L4 verdict
   * when it denies, else the per-request L7 judgement. Fails closed: an engine bug (a throw)
   * denies the request instead of forwarding it unjudged.
   */
  judge(conn: JudgedConnection, facts: HttpRequestFacts): Verdict {
    try {
      const version = this.deps.engine.version;
      if (version !== conn.version) {
        conn.policy = gateAuthentication(this.deps.engine.connection(conn.query), conn.target);
        conn.version = version;
      }
    } catch (err) {
      this.log.error({ err }, 'BUG: policy engine threw for a connection; denying the request');
      return { allowed: false, authRequired: false, l7: 'http', reason: 'policy engine error (request denied)' };
    }
    const policy = conn.policy;
    if (!policy.verdict.allowed) return policy.verdict;
    try {
      return policy.judgeHttp(facts);
    } catch (err) {
      this.log.error({ err }, 'BUG: policy engine threw while judging a request; denying it');
      return { allowed: false, authRequired: false, l7: 'http', reason: 'policy engine error (request denied)' };
    }
  }

  flowsOn(): boolean {
    return this.flows.enabled !== false;
  }

  debug(obj: object, msg: string): void {
    if (this.debugOn) this.log.debug(obj, msg);
  }

  now(): number {
    return Date.now();
  }

  forget(conn: object): void {
    this.conns.delete(conn as ClientConn);
  }

  private sweep(): void {
    const now = Date.now();
    for (const c of this.conns) c.sweep(now);
  }
}
