/**
 * The DNS proxy (docs/dns.md): one UDP socket and one TCP listener on the same address. Each
 * query is admitted from its raw bytes (wire.ts), judged against the source's egress
 * `rules.dns` toward the DNS server (and the server's ingress) through the policy engine,
 * answered REFUSED (or NXDOMAIN) when denied, and otherwise forwarded over the same transport to
 * the original resolver with a fresh random ID; the answer is relayed unchanged but for the ID,
 * after the A/AAAA IPs on its CNAME chain were learned into the FQDN cache (bounded wait).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { randomFillSync } from 'node:crypto';
import type { Logger } from 'pino';
import { TendrilError, type HostPort } from '../../core/index.js';
import type { FlowSink } from '../../observe/index.js';
import type { ConnectionPolicy, PeerRef, PolicyEngine, Verdict } from '../../policy/api.js';
import type { DescribeEndpoint } from '../flows.js';
import type { FqdnCache } from './fqdn-cache.js';
import { DnsFlows, type DnsFlowConn } from './dns-flows.js';
import { admitQuery, denyReply, errorReply, parseResponse, RCODE, type ParsedQuery } from './wire.js';
import type { DnsRedirectSource, DnsTarget } from './dns-source.js';

export type DnsTransport = 'UDP' | 'TCP';

export interface DnsProxyOptions {
  /** Reply code for denied queries: REFUSED (Cilium's default) or NXDOMAIN (`nameError`). */
  rejectResponseCode: 'refused' | 'nameError';
  /** Time the upstream may take; on timeout the client gets no reply (docs/dns.md D6). */
  upstreamTimeoutMs: number;
  /** Longest the answer waits for learned IPs to reach policy before it is relayed. */
  responseMaxDelayMs: number;
  /** Most queries in flight upstream per UDP socket or TCP connection; beyond it: reject code. */
  maxPending: number;
  /** Idle time of a client TCP connection, ms. */
  tcpIdleTimeoutMs: number;
}

export const DEFAULT_DNS_PROXY_OPTIONS: Readonly<DnsProxyOptions> = Object.freeze({
  rejectResponseCode: 'refused',
  upstreamTimeoutMs: 10_000,
  responseMaxDelayMs: 100,
  maxPending: 10_000,
  tcpIdleTimeoutMs: 60_000,
});

export interface DnsProxyArgs {
  listen: HostPort;
  source: DnsRedirectSource;
  /** The current policy snapshot (learning swaps it). */
  engine: () => PolicyEngine;
  log: Logger;
  flows: FlowSink;
  describe: DescribeEndpoint;
  nodeName?: string;
  /** Where learned names go; absent = judge only. */
  cache?: FqdnCache;
  options?: Partial<DnsProxyOptions>;
}

export interface DnsProxyStats {
  queries: number;
  forwarded: number;
  denied: number;
  malformed: number;
  dropped: number;
  upstreamErrors: number;
  upstreamTimeouts: number;
  learned: number;
}

interface Pending {
  clientId: number;
  query: ParsedQuery;
  target: DnsTarget;
  conn: DnsFlowConn;
  started: bigint;
  /** TCP only (UDP timeouts are found by the periodic scan). */
  timer: NodeJS.Timeout | null;
  reply: (msg: Buffer) => void;
}

/** Queries in flight on one client TCP connection (bounds the memory one client can pin). */
const MAX_PENDING_PER_TCP = 256;

const idPool = new Uint16Array(4096);
let idNext = idPool.length;

/** Picks an unused 16-bit ID (random from the CSPRNG, so answers cannot be guessed from the client's ID). */
function freshId(inUse: Map<number, unknown>): number {
  for (;;) {
    if (idNext === idPool.length) {
      randomFillSync(idPool);
      idNext = 0;
    }
    const id = idPool[idNext++]!;
    if (!inUse.has(id)) return id;
  }
}

/** dgram's `lookup` for destinations that are already IP addresses (the socket's family). */
function ipLookup(address: string, opts: { family?: number | string } | number | undefined, cb: (err: Error | null, address: string, family: number) => void): void {
  const family = net.isIP(address);
  if (family === 0) {
    dns.lookup(address, { family: typeof opts === 'number' ? opts : 0 }, (err, a, f) => cb(err, a, f));
    return;
  }
  cb(null, address, family);
}

function withId(msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(id, 0);
  return out;
}

export class DnsProxy {
  readonly stats: DnsProxyStats = { queries: 0, forwarded: 0, denied: 0, malformed: 0, dropped: 0, upstreamErrors: 0, upstreamTimeouts: 0, learned: 0 };
  private readonly opts: DnsProxyOptions;
  private readonly log: Logger;
  private readonly flows: DnsFlows;
  private udp: dgram.Socket | null = null;
  private tcp: net.Server | null = null;
  /** One connected UDP socket per upstream resolver (`host:port`): answers from anyone else are never read. */
  private readonly upstreamUdp = new Map<string, { sock: dgram.Socket; ready: boolean; queue: [Buffer, (err: Error) => void][] }>();
  private udpType: 'udp4' | 'udp6' = 'udp4';
  private sweepTimer: NodeJS.Timeout | null = null;
  /** ConnectionPolicy per (source, destination, port, transport) for the current engine snapshot. */
  private connCache = new Map<string, ConnectionPolicy>();
  private connCacheEngine: PolicyEngine | null = null;
  private readonly udpPending = new Map<number, Pending>();
  private readonly clients = new Set<net.Socket>();
  private bound: HostPort | null = null;
  private closed = false;

  constructor(private readonly args: DnsProxyArgs) {
    this.opts = { ...DEFAULT_DNS_PROXY_OPTIONS, ...args.options };
    this.log = args.log.child({ component: 'dns-proxy' });
    this.flows = new DnsFlows(args.flows, args.describe, args.nodeName ?? '');
  }

  get address(): HostPort {
    if (!this.bound) throw new TendrilError('TND_PROXY_LISTEN', 'DNS proxy is not listening');
    return this.bound;
  }

  private get rejectRcode(): number {
    return this.opts.rejectResponseCode === 'nameError' ? RCODE.NXDOMAIN : RCODE.REFUSED;
  }

  /** Binds UDP and TCP on the same address (port 0: the port the UDP bind got, for both). */
  async start(): Promise<void> {
    const { host } = this.args.listen;
    const type = host.includes(':') ? 'udp6' : 'udp4';
    let lastErr: unknown = null;
    for (let attempt = 0; attempt < (this.args.listen.port === 0 ? 5 : 1); attempt++) {
      // Replies go to rinfo.address, always an IP: answer the lookup at once instead of dns.lookup's deferred callback per send.
      const udp = dgram.createSocket({ type, lookup: ipLookup });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(this.args.listen.port, host, () => {
            udp.off('error', reject);
            resolve();
          });
        });
        const port = udp.address().port;
        const tcp = net.createServer((s) => this.onTcpClient(s));
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, host, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
        this.udp = udp;
        this.tcp = tcp;
        this.bound = { host, port };
        break;
      } catch (err) {
        lastErr = err;
        udp.close();
      }
    }
    if (!this.udp || !this.tcp || !this.bound) {
      const code = (lastErr as NodeJS.ErrnoException)?.code ?? String(lastErr);
      throw new TendrilError('TND_PROXY_LISTEN', `DNS proxy cannot listen on ${host}:${this.args.listen.port} (UDP and TCP): ${code}`, { listen: `${host}:${this.args.listen.port}` }, { cause: lastErr });
    }
    this.udp.on('message', (msg, rinfo) => this.onUdpQuery(msg, rinfo));
    this.udp.on('error', (err) => this.log.warn({ err: err.message }, 'DNS proxy UDP socket error'));
    this.udpType = type;
    // Upstream timeouts (D6: no reply to the client) are found by one periodic scan.
    this.sweepTimer = setInterval(() => this.expireUdp(), Math.min(500, this.opts.upstreamTimeoutMs));
    this.sweepTimer.unref();
  }

  private expireUdp(): void {
    const now = process.hrtime.bigint();
    const limit = BigInt(this.opts.upstreamTimeoutMs) * 1_000_000n;
    for (const [id, p] of this.udpPending) {
      if (now - p.started < limit) continue;
      this.udpPending.delete(id);
      this.stats.upstreamTimeouts++;
      this.flows.upstreamError(p.conn, p.query, 'upstream timeout', p.started);
    }
  }

  private sendUpstream(host: string, port: number, msg: Buffer, onError: (err: Error) => void): void {
    const key = `${host}:${port}`;
    let u = this.upstreamUdp.get(key);
    if (!u) {
      const sock = dgram.createSocket({ type: this.udpType });
      const entry = { sock, ready: false, queue: [] as [Buffer, (err: Error) => void][] };
      u = entry;
      this.upstreamUdp.set(key, entry);
      sock.on('message', (m) => this.onUdpAnswer(m, host, port));
      sock.on('error', (err) => this.log.warn({ err: err.message, upstream: key }, 'DNS proxy upstream UDP socket error'));
      sock.connect(port, host, () => {
        entry.ready = true;
        for (const [b, fail] of entry.queue) sock.send(b, (err) => err && fail(err));
        entry.queue = [];
      });
    }
    if (u.ready) u.sock.send(msg, (err) => err && onError(err));
    else u.queue.push([msg, onError]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.udpPending.clear();
    for (const s of this.clients) s.destroy();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      ...[...this.upstreamUdp.values()].map((u) => new Promise<void>((r) => u.sock.close(() => r()))),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
  }

  // ---- admission and judgement (shared by both transports) ----

  /**
   * Admits and judges one query. Returns the query and target when it is to be forwarded; else
   * it has already been answered (or dropped) and null is returned.
   */
  private judge(msg: Buffer, transport: DnsTransport, client: { ip: string; port: number }, local: { ip: string; port: number }, reply: (b: Buffer) => void): { query: ParsedQuery; target: DnsTarget; conn: DnsFlowConn } | null {
    this.stats.queries++;
    let target: DnsTarget | null;
    try {
      target = this.args.source.resolve(client, local, transport);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'DNS redirect source failed');
      target = null;
    }
    const adm = admitQuery(msg);
    if (adm.kind === 'drop') {
      this.stats.dropped++;
      this.log.debug({ client: `${client.ip}:${client.port}`, reason: adm.reason }, 'DNS message dropped');
      return null;
    }
    if (!target) {
      // Not attributable to a redirect: never forwarded.
      this.stats.denied++;
      if (adm.kind === 'query') reply(denyReply(msg, adm.query, this.rejectRcode));
      return null;
    }
    const conn = this.flows.conn(target, transport, this.bound?.port ?? 0);
    if (adm.kind === 'reject') {
      this.stats.malformed++;
      reply(errorReply(msg, adm.rcode));
      this.flows.malformed(conn, adm.rcode, adm.reason);
      return null;
    }
    const q = adm.query;
    const verdict = this.verdictFor(target, transport, q.name.normalized);
    this.flows.request(conn, q, verdict);
    if (!verdict.allowed) {
      this.stats.denied++;
      reply(denyReply(msg, q, this.rejectRcode));
      return null;
    }
    return { query: q, target, conn };
  }

  private verdictFor(target: DnsTarget, transport: DnsTransport, name: string): Verdict {
    const ref = (p: { ip: string; endpoint: string | null }): PeerRef => (p.endpoint ? { endpoint: p.endpoint } : { ip: p.ip });
    try {
      const engine = this.args.engine();
      if (engine !== this.connCacheEngine || this.connCache.size >= 10_000) {
        this.connCache = new Map();
        this.connCacheEngine = engine;
      }
      const s = target.source;
      const d = target.destination;
      const key = `${s.endpoint ?? s.ip}|${d.endpoint ?? d.ip}|${d.port}|${transport}`;
      let conn = this.connCache.get(key);
      if (!conn) {
        conn = engine.connection({ from: ref(s), to: ref(d), port: d.port, protocol: transport });
        this.connCache.set(key, conn);
      }
      return conn.judgeDns({ query: name });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'DNS policy lookup failed: denied');
      return { allowed: false, authRequired: false, l7: null, reason: `policy lookup failed: ${(err as Error).message}` };
    }
  }

  /** Relays an upstream answer: learns, restores the client's ID, writes, emits the response flow. */
  private async answer(p: Pending, msg: Buffer): Promise<void> {
    const parsed = parseResponse(msg);
    if (!parsed || !parsed.question || parsed.question.normalized !== p.query.name.normalized) {
      this.stats.upstreamErrors++;
      const reason = parsed ? 'upstream answer does not carry the question asked' : 'upstream answer is malformed';
      this.flows.upstreamError(p.conn, p.query, reason, p.started);
      p.reply(denyReplyFor(p, this.rejectRcode));
      return;
    }
    if (this.args.cache && parsed.rcode === RCODE.NOERROR && parsed.chainOk && parsed.ips.length > 0) {
      const who = p.target.source.endpoint ?? 'world';
      const learn = this.args.cache.learn(who, p.query.name.normalized, parsed.ips, parsed.ttl ?? 0);
      this.stats.learned += parsed.ips.length;
      if (learn) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([learn.catch((err) => this.log.warn({ err: (err as Error).message }, 'learning failed')), new Promise<void>((r) => (timer = setTimeout(r, this.opts.responseMaxDelayMs)))]);
        clearTimeout(timer);
      }
    }
    this.stats.forwarded++;
    p.reply(withId(msg, p.clientId));
    this.flows.response(p.conn, p.query, parsed, p.started);
  }

  // ---- UDP ----

  private onUdpQuery(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const udp = this.udp;
    if (!udp || this.closed) return;
    const reply = (b: Buffer): void => udp.send(b, rinfo.port, rinfo.address);
    const local = { ip: this.bound!.host, port: this.bound!.port };
    let j;
    try {
      j = this.judge(msg, 'UDP', { ip: rinfo.address, port: rinfo.port }, local, reply);
    } catch (err) {
      this.log.error({ err: (err as Error).stack }, 'DNS query handling failed; not forwarded');
      return;
    }
    if (!j) return;
    if (this.udpPending.size >= this.opts.maxPending) {
      this.stats.upstreamErrors++;
      reply(denyReply(msg, j.query, this.rejectRcode));
      return;
    }
    const id = freshId(this.udpPending);
    const p: Pending = {
      clientId: j.query.id,
      query: j.query,
      target: j.target,
      conn: j.conn,
      started: process.hrtime.bigint(),
      reply,
      timer: null,
    };
    this.udpPending.set(id, p);
    const { host, port } = j.target.upstream;
    this.sendUpstream(host, port, withId(msg, id), (err) => {
      if (this.udpPending.get(id) !== p) return;
      this.udpPending.delete(id);
      this.stats.upstreamErrors++;
      this.flows.upstreamError(p.conn, p.query, `upstream send failed: ${err.message}`, p.started);
      reply(denyReplyFor(p, this.rejectRcode));
    });
  }

  private onUdpAnswer(msg: Buffer, host: string, port: number): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.udpPending.get(id);
    // Only the resolver the query went to may answer it (the socket is connected to it).
    if (!p || p.target.upstream.port !== port || p.target.upstream.host !== host) return;
    this.udpPending.delete(id);
    void this.answer(p, msg).catch((err) => this.log.error({ err: (err as Error).stack }, 'DNS answer handling failed'));
  }

  // ---- TCP ----

  private onTcpClient(sock: net.Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    this.clients.add(sock);
    sock.setTimeout(this.opts.tcpIdleTimeoutMs, () => sock.destroy());
    sock.setNoDelay(true);
    const client = { ip: stripMapped(sock.remoteAddress ?? ''), port: sock.remotePort ?? 0 };
    const local = { ip: stripMapped(sock.localAddress ?? ''), port: sock.localPort ?? 0 };
    const pending = new Map<number, Pending>();
    let upstream: net.Socket | null = null;
    let buf: Buffer = Buffer.alloc(0);
    const write = (b: Buffer): void => {
      if (sock.destroyed || !sock.writable) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(b.length, 0);
      sock.write(Buffer.concat([len, b]));
    };
    const failAll = (reason: string): void => {
      for (const p of pending.values()) {
        if (p.timer) clearTimeout(p.timer);
        this.stats.upstreamErrors++;
        this.flows.upstreamError(p.conn, p.query, reason, p.started);
        p.reply(denyReplyFor(p, this.rejectRcode));
      }
      pending.clear();
    };
    const connectUpstream = (target: DnsTarget): net.Socket => {
      const up = net.connect({ host: target.upstream.host, port: target.upstream.port });
      up.setNoDelay(true);
      let ubuf: Buffer = Buffer.alloc(0);
      up.on('data', (chunk: Buffer) => {
        ubuf = ubuf.length === 0 ? chunk : Buffer.concat([ubuf, chunk]);
        while (ubuf.length >= 2) {
          const n = ubuf.readUInt16BE(0);
          if (ubuf.length < 2 + n) break;
          const m = ubuf.subarray(2, 2 + n);
          ubuf = ubuf.subarray(2 + n);
          if (m.length < 12) continue;
          const p = pending.get(m.readUInt16BE(0));
          if (!p) continue;
          pending.delete(m.readUInt16BE(0));
          if (p.timer) clearTimeout(p.timer);
          void this.answer(p, Buffer.from(m)).catch((err) => this.log.error({ err: (err as Error).stack }, 'DNS answer handling failed'));
        }
      });
      up.on('error', (err) => this.log.debug({ err: err.message }, 'DNS upstream TCP error'));
      up.on('close', () => {
        if (upstream === up) upstream = null;
        failAll('upstream closed the TCP connection');
      });
      return up;
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) break;
        const msg = Buffer.from(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
        let j;
        try {
          j = this.judge(msg, 'TCP', client, local, write);
        } catch (err) {
          this.log.error({ err: (err as Error).stack }, 'DNS query handling failed; not forwarded');
          continue;
        }
        if (!j) continue;
        if (pending.size >= Math.min(this.opts.maxPending, MAX_PENDING_PER_TCP)) {
          this.stats.upstreamErrors++;
          write(denyReply(msg, j.query, this.rejectRcode));
          continue;
        }
        const id = freshId(pending);
        const up = (upstream ??= connectUpstream(j.target));
        const p: Pending = {
          clientId: j.query.id,
          query: j.query,
          target: j.target,
          conn: j.conn,
          started: process.hrtime.bigint(),
          reply: write,
          timer: setTimeout(() => {
            if (pending.get(id) !== p) return;
            pending.delete(id);
            this.stats.upstreamTimeouts++;
            this.flows.upstreamError(p.conn, p.query, 'upstream timeout', p.started);
          }, this.opts.upstreamTimeoutMs),
        };
        pending.set(id, p);
        const framed = Buffer.alloc(2 + msg.length);
        framed.writeUInt16BE(msg.length, 0);
        msg.copy(framed, 2);
        framed.writeUInt16BE(id, 2);
        up.write(framed);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.clients.delete(sock);
      for (const p of pending.values()) if (p.timer) clearTimeout(p.timer);
      pending.clear();
      upstream?.destroy();
    });
  }
}

/** The reject reply for a query already admitted. */
function denyReplyFor(p: Pending, rcode: number): Buffer {
  return denyReply(p.query.raw, p.query, rcode);
}

function stripMapped(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

