/**
 * One Kafka proxy listener (one redirect; docs/kafka.md). Per accepted connection: attribute it
 * (RedirectSource), ask the policy engine once, then for EVERY request frame:
 *   framing check (size > 0 and <= maxFrameBytes, before buffering the body) -> header ->
 *   strict decode against the API table -> topics -> judge (key, version, client id, topics) ->
 *   forward, or answer a synthetic deny response in correlation order, or close.
 * Responses are relayed in order; ApiVersions responses are clamped to the versions the tables
 * cover, and in explicit mode Metadata/FindCoordinator broker addresses are rewritten to the
 * listen address. A malformed or unknown request closes the connection and is never forwarded.
 * A port whose policy has no Kafka rules relays frames after the framing checks only.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { TendrilError, isTendrilError } from '../../core/index.js';
import type { FlowSink } from '../../observe/index.js';
import { nowNs } from '../../observe/index.js';
import type { ConnectionPolicy, PolicyEngine, Verdict } from '../../policy/api.js';
import { connContext, type DescribeEndpoint, type FlowConnContext } from '../flows.js';
import type { RedirectSource, RedirectTarget } from '../redirect-source.js';
import { apiKeyName, apiTable } from './apis.js';
import { denyErrorCode, denyResponse } from './deny.js';
import { emitMalformed, emitRequest, emitResponse, type KafkaFlowFacts } from './flows.js';
import { decodeRequest, readRequestHeader, type DecodedRequest, type RequestHeader } from './request.js';
import { clampApiVersions, rewriteBrokers, type Advertised } from './rewrite.js';

/** Kafka's own default for `socket.request.max.bytes`. */
export const DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024;

export interface KafkaListenerDeps {
  listen: { host: string; port: number };
  redirects: RedirectSource;
  engine: PolicyEngine;
  flows: FlowSink;
  log: Logger;
  describe: DescribeEndpoint;
  nodeName: string;
  /** Explicit mode: rewrite broker addresses in responses to this address (the listen address when port is 0: the bound one). */
  advertise?: Advertised | 'listen';
  maxFrameBytes?: number;
}

export interface KafkaListenerStats {
  connections: number;
  requests: number;
  forwarded: number;
  denied: number;
  malformed: number;
  closedOnDeny: number;
}

interface Forwarded {
  kind: 'fwd';
  header: RequestHeader;
  facts: KafkaFlowFacts;
  start: bigint;
}
interface Synthetic {
  kind: 'syn';
  frame: Buffer;
}

export class KafkaListener {
  readonly stats: KafkaListenerStats = { connections: 0, requests: 0, forwarded: 0, denied: 0, malformed: 0, closedOnDeny: 0 };
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  readonly log: Logger;
  private port = 0;

  constructor(readonly deps: KafkaListenerDeps) {
    this.log = deps.log.child({ component: 'proxy.kafka', listen: `${deps.listen.host}:${deps.listen.port}` });
    this.server = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => this.onConnection(s));
  }

  get address(): { host: string; port: number } {
    return { host: this.deps.listen.host, port: this.port };
  }

  get advertised(): Advertised | null {
    const a = this.deps.advertise;
    if (a === undefined) return null;
    return a === 'listen' ? this.address : a;
  }

  get maxFrameBytes(): number {
    return this.deps.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
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
      for (const s of this.sockets) s.destroy();
    });
  }

  /** Tracks a socket so close() can end it. */
  track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private onConnection(socket: net.Socket): void {
    this.stats.connections++;
    this.track(socket);
    let target: RedirectTarget | null;
    try {
      target = this.deps.redirects.resolve(socket);
    } catch (err) {
      this.log.warn({ err }, 'redirect source failed; closing connection');
      target = null;
    }
    if (!target) {
      this.log.warn({ src: socket.remoteAddress }, 'connection has no redirect target; closing');
      socket.destroy();
      return;
    }
    const from = target.source.endpoint ? { endpoint: target.source.endpoint } : { ip: target.source.ip };
    const to = target.destination.endpoint ? { endpoint: target.destination.endpoint } : { ip: target.destination.ip };
    let policy: ConnectionPolicy;
    try {
      policy = this.deps.engine.connection({ from, to, port: target.destination.port, protocol: 'TCP' });
    } catch (err) {
      this.log.error({ err }, 'BUG: policy engine threw for a connection; closing it');
      socket.destroy();
      return;
    }
    const l7 = policy.verdict.l7;
    if (l7 !== null && l7 !== 'kafka') {
      this.log.warn({ l7 }, `the policy on this port expects ${l7}, not Kafka; closing connection`);
      socket.destroy();
      return;
    }
    new KafkaConnection(this, socket, target, policy, connContext(target, this.deps.describe, this.deps.nodeName, this.port)).start();
  }
}

/** One client connection and its (lazily opened) broker connection. */
class KafkaConnection {
  private inbuf: Buffer[] = [];
  private inlen = 0;
  private upbuf: Buffer[] = [];
  private uplen = 0;
  private upstream: net.Socket | null = null;
  private readonly pending: (Forwarded | Synthetic)[] = [];
  private closed = false;
  private clientEnded = false;
  /** Strict parsing: the port has Kafka rules (or the connection is L3/L4-denied). */
  private readonly strict: boolean;

  constructor(
    private readonly l: KafkaListener,
    private readonly client: net.Socket,
    private readonly target: RedirectTarget,
    private readonly policy: ConnectionPolicy,
    private readonly ctx: FlowConnContext,
  ) {
    this.strict = policy.verdict.l7 === 'kafka' || !policy.verdict.allowed;
  }

  start(): void {
    this.client.on('data', (d: Buffer) => this.onClientData(d));
    this.client.on('end', () => {
      this.clientEnded = true;
      this.maybeFinish();
    });
    this.client.on('error', () => this.close());
    this.client.on('close', () => this.close());
  }

  private close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    if (reason) this.l.log.debug({ src: this.target.source.ip, reason }, 'closing Kafka connection');
    this.client.destroy();
    this.upstream?.destroy();
  }

  private maybeFinish(): void {
    if (this.clientEnded && this.pending.length === 0 && this.inlen === 0) this.close();
  }

  /** Takes complete frames out of a chunk list; null when the next frame is not complete. Throws on a bad size. */
  private static takeFrame(chunks: Buffer[], len: number, max: number): { frame: Buffer; rest: number } | null {
    if (len < 4) return null;
    let head = chunks[0]!;
    if (head.length < 4) {
      head = Buffer.concat(chunks);
      chunks.splice(0, chunks.length, head);
    }
    const size = head.readInt32BE(0);
    if (size <= 0 || size > max) {
      throw new TendrilError('TND_KAFKA_MALFORMED', `Kafka frame size ${size} is outside 1..${max}`, { field: 'size' });
    }
    if (len < 4 + size) return null;
    if (head.length < 4 + size) {
      head = Buffer.concat(chunks);
      chunks.splice(0, chunks.length, head);
    }
    const frame = head.subarray(0, 4 + size);
    if (head.length === 4 + size) chunks.shift();
    else chunks[0] = head.subarray(4 + size);
    return { frame, rest: len - 4 - size };
  }

  private onClientData(d: Buffer): void {
    if (this.closed) return;
    this.inbuf.push(d);
    this.inlen += d.length;
    for (;;) {
      let got;
      try {
        got = KafkaConnection.takeFrame(this.inbuf, this.inlen, this.l.maxFrameBytes);
      } catch (err) {
        this.malformed(null, err);
        return;
      }
      if (!got) break;
      this.inlen = got.rest;
      this.onRequest(got.frame);
      if (this.closed) return;
    }
    this.maybeFinish();
  }

  private malformed(header: RequestHeader | null, err: unknown): void {
    this.l.stats.malformed++;
    const reason = isTendrilError(err) ? `${err.code}: ${err.message}` : String(err);
    const facts = header ? { apiKey: apiKeyName(header.apiKey), apiVersion: header.apiVersion, correlationId: header.correlationId, topics: [] } : null;
    emitMalformed(this.l.deps.flows, this.ctx, facts, reason);
    this.close(reason);
  }

  private judge(req: DecodedRequest | RequestHeader, topics: string[]): Verdict {
    const header = 'header' in req ? req.header : req;
    if (!this.policy.verdict.allowed) return this.policy.verdict;
    try {
      return this.policy.judgeKafka({ apiKey: header.apiKey, apiVersion: header.apiVersion, clientID: header.clientId, topics });
    } catch (err) {
      this.l.log.error({ err }, 'BUG: policy engine threw while judging a Kafka request; denying it');
      return { allowed: false, authRequired: false, l7: 'kafka', reason: 'policy engine error (request denied)' };
    }
  }

  private onRequest(frame: Buffer): void {
    this.l.stats.requests++;
    const body = frame.subarray(4);
    let header: RequestHeader;
    try {
      header = readRequestHeader(body);
    } catch (err) {
      this.malformed(null, err);
      return;
    }
    let decoded: DecodedRequest | null = null;
    // ApiVersions is judged on its header alone and may be newer than the tables (the broker answers it).
    if (header.apiKey !== 18 || this.strict) {
      try {
        decoded = decodeRequest(body, header);
      } catch (err) {
        // ApiVersions newer than the table is judged on its header and forwarded (the broker
        // answers with its own version range); one the table covers must decode like any request.
        const newerApiVersions = header.apiKey === 18 && apiTable(18, header.apiVersion) === null;
        if (!newerApiVersions && (this.strict || header.apiKey === 0)) {
          this.malformed(header, err);
          return;
        }
      }
    }
    // "All topics" counts as naming no topic: only a topic-less rule allows it (docs/kafka.md "Topics").
    const topics = decoded && !decoded.allTopics ? decoded.topics : [];
    const facts: KafkaFlowFacts = { apiKey: apiKeyName(header.apiKey), apiVersion: header.apiVersion, correlationId: header.correlationId, topics: decoded?.topics ?? [] };
    const verdict = this.strict ? this.judge(decoded ?? header, topics) : this.policy.verdict;
    const acksZero = header.apiKey === 0 && decoded !== null && decoded.body.Acks === 0;
    if (verdict.allowed) {
      this.l.stats.forwarded++;
      emitRequest(this.l.deps.flows, this.ctx, facts, verdict, 0);
      if (!acksZero) this.pending.push({ kind: 'fwd', header, facts, start: nowNs() });
      this.forward(frame);
      return;
    }
    this.l.stats.denied++;
    const deny = decoded && !acksZero ? denyResponse(decoded) : null;
    emitRequest(this.l.deps.flows, this.ctx, facts, verdict, deny?.errorCode ?? (decoded ? (denyErrorCode(decoded) ?? 0) : 0));
    if (!deny) {
      // acks=0 produce (no response expected: the broker's own signal is a close), ApiVersions,
      // or an API with no deny shape.
      this.l.stats.closedOnDeny++;
      this.close(`denied ${facts.apiKey} v${header.apiVersion} has no response to send; closing`);
      return;
    }
    emitResponse(this.l.deps.flows, this.ctx, facts, nowNs(), { errorCode: deny.errorCode, reason: verdict.reason });
    if (this.pending.length === 0) this.client.write(deny.frame);
    else this.pending.push({ kind: 'syn', frame: deny.frame });
  }

  private forward(frame: Buffer): void {
    const up = (this.upstream ??= this.connectUpstream());
    if (!up.write(frame)) {
      this.client.pause();
      up.once('drain', () => this.client.resume());
    }
  }

  private connectUpstream(): net.Socket {
    const { host, port } = this.target.upstream;
    const up = net.connect({ host, port, noDelay: true });
    this.l.track(up);
    up.on('data', (d: Buffer) => this.onUpstreamData(d));
    up.on('error', (err) => {
      this.l.log.debug({ err, upstream: `${host}:${port}` }, 'Kafka upstream error');
      this.close('upstream error');
    });
    up.on('close', () => this.close());
    return up;
  }

  private onUpstreamData(d: Buffer): void {
    if (this.closed) return;
    this.upbuf.push(d);
    this.uplen += d.length;
    for (;;) {
      let got;
      try {
        got = KafkaConnection.takeFrame(this.upbuf, this.uplen, this.l.maxFrameBytes);
      } catch (err) {
        this.l.log.warn({ err }, 'broker sent a bad Kafka frame; closing');
        this.close('bad broker frame');
        return;
      }
      if (!got) break;
      this.uplen = got.rest;
      this.onResponse(got.frame);
      if (this.closed) return;
    }
  }

  private onResponse(frame: Buffer): void {
    const head = this.pending.shift();
    if (!head || head.kind !== 'fwd' || frame.readInt32BE(4) !== head.header.correlationId) {
      this.l.log.warn({ expected: head?.kind === 'fwd' ? head.header.correlationId : null }, 'broker response out of order; closing');
      this.close('broker response out of order');
      return;
    }
    let out = frame;
    try {
      const { apiKey, apiVersion } = head.header;
      if (apiKey === 18) clampApiVersions(frame.subarray(4), apiVersion);
      const adv = this.l.advertised;
      if (adv && (apiKey === 3 || apiKey === 10)) out = rewriteBrokers(frame.subarray(4), apiKey, apiVersion, adv);
    } catch (err) {
      this.l.log.warn({ err }, 'broker response could not be rewritten; closing');
      this.close('broker response unreadable');
      return;
    }
    emitResponse(this.l.deps.flows, this.ctx, head.facts, head.start, null);
    let ok = this.client.write(out);
    while (this.pending.length > 0 && this.pending[0]!.kind === 'syn') ok = this.client.write((this.pending.shift() as Synthetic).frame) && ok;
    if (!ok && this.upstream) {
      const up = this.upstream;
      up.pause();
      this.client.once('drain', () => up.resume());
    }
    this.maybeFinish();
  }
}
