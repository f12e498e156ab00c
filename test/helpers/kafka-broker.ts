/**
 * An in-test Kafka broker (docs/kafka.md "In-test broker"): one node, speaking the real wire
 * protocol through Tendril's own codec tables, well enough for kafkajs and kcat to produce,
 * consume (assign or group) and administer topics. Record batches are stored as sent (magic 2)
 * with their base offset rewritten (the CRC covers only bytes 21 onward, so it stays valid).
 * Every decoded request is recorded in `received` so tests can assert what reached the broker.
 */
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { apiTable, decodeRequest, encodeStruct, responseFrame, type DecodedRequest, type Rec, API_TABLES } from '../../proxy/kafka/index.js';

export interface ReceivedRequest {
  apiKey: number;
  apiVersion: number;
  clientId: string | null;
  correlationId: number;
  topics: string[];
}

interface Partition {
  batches: { base: bigint; last: bigint; bytes: Buffer }[];
  next: bigint;
}

interface Topic {
  id: Buffer;
  partitions: Partition[];
}

interface Group {
  generation: number;
  leader: string;
  protocol: string;
  metadata: Buffer;
  assignment: Map<string, Buffer>;
  offsets: Map<string, bigint>;
}

export interface KafkaBrokerOptions {
  host: string;
  port?: number;
  partitions?: number;
  /** Capture every request frame (the raw bytes after the size prefix). */
  capture?: boolean;
}

const UNSUPPORTED_VERSION = 35;

export class KafkaTestBroker {
  readonly received: ReceivedRequest[] = [];
  readonly frames: Buffer[] = [];
  readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private producerIds = 1000n;
  port = 0;
  /** The address advertised in Metadata/FindCoordinator (the broker itself unless set). */
  advertised: { host: string; port: number } | null = null;
  /** Requests that failed to decode (the broker closed the connection). */
  readonly errors: string[] = [];

  constructor(readonly opts: KafkaBrokerOptions) {
    this.server = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host, () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private get adv(): { host: string; port: number } {
    return this.advertised ?? { host: this.opts.host, port: this.port };
  }

  createTopic(name: string, partitions = this.opts.partitions ?? 1): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = { id: Buffer.from(randomUUID().replace(/-/g, ''), 'hex'), partitions: [] };
      for (let i = 0; i < partitions; i++) t.partitions.push({ batches: [], next: 0n });
      this.topics.set(name, t);
    }
    return t;
  }

  /** Number of records stored in a topic (all partitions). */
  recordCount(name: string): number {
    const t = this.topics.get(name);
    return t ? t.partitions.reduce((n, p) => n + Number(p.next), 0) : 0;
  }

  private onConnection(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let chain: Promise<void> = Promise.resolve();
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const size = buf.readInt32BE(0);
        if (size <= 0) {
          s.destroy();
          return;
        }
        if (buf.length < 4 + size) break;
        const frame = buf.subarray(4, 4 + size);
        buf = buf.subarray(4 + size);
        if (this.opts.capture) this.frames.push(Buffer.from(frame));
        chain = chain.then(async () => {
          if (s.destroyed) return;
          const out = await this.handleFrame(frame);
          if (out === 'close') s.destroy();
          else if (out) s.write(out);
        });
      }
    });
  }

  private async handleFrame(frame: Buffer): Promise<Buffer | null | 'close'> {
    const key = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    if (key === 18 && !apiTable(18, version)) {
      // KIP-511: an ApiVersions version we do not know is answered with a v0 body and error 35.
      const corr = frame.readInt32BE(4);
      return responseFrame({ header: { apiKey: 18, apiVersion: 0, correlationId: corr } }, false, (w) =>
        encodeStruct(API_TABLES.get(18)!.response, 0, false, w, { ErrorCode: UNSUPPORTED_VERSION, ApiKeys: [{ ApiKey: 18, MinVersion: 0, MaxVersion: 3 }] }),
      );
    }
    let req: DecodedRequest;
    try {
      req = decodeRequest(frame);
    } catch (err) {
      this.errors.push(String(err));
      return 'close';
    }
    const h = req.header;
    this.received.push({ apiKey: h.apiKey, apiVersion: h.apiVersion, clientId: h.clientId, correlationId: h.correlationId, topics: req.topics });
    const body = await this.answer(req);
    if (body === null) return null;
    const flex = h.apiVersion >= req.table.flexible;
    return responseFrame(req, flex, (w) => encodeStruct(req.table.response, h.apiVersion, flex, w, body));
  }

  private partition(topic: string, index: number): Partition | null {
    return this.topics.get(topic)?.partitions[index] ?? null;
  }

  private async answer(req: DecodedRequest): Promise<Rec | null> {
    const b = req.body;
    const v = req.header.apiVersion;
    const recs = (x: unknown): Rec[] => (x as Rec[] | null) ?? [];
    switch (req.header.apiKey) {
      case 18:
        return {
          ErrorCode: 0,
          // A Kafka 3.9 broker's ranges: Fetch up to 17 and DeleteTopics up to 6 name topics by id
          // only; a client talking through the proxy never sees them (clamped), one talking
          // directly never picks them (kafkajs and librdkafka 2.0 stop below).
          ApiKeys: [...API_TABLES.values()].map((t) => ({ ApiKey: t.key, MinVersion: 0, MaxVersion: t.key === 1 ? 17 : t.key === 20 ? 6 : t.key === 18 ? 3 : t.versions[1] })),
        };
      case 3: {
        const auto = v < 4 || b.AllowAutoTopicCreation === true;
        const names = req.allTopics ? [...this.topics.keys()] : req.topics;
        return {
          Brokers: [{ NodeId: 0, Host: this.adv.host, Port: this.adv.port, Rack: null }],
          ClusterId: 'tendril-test-cluster',
          ControllerId: 0,
          Topics: names.map((name) => {
            const t = this.topics.get(name) ?? (auto ? this.createTopic(name) : null);
            if (!t) return { ErrorCode: 3, Name: name, Partitions: [], TopicAuthorizedOperations: -2147483648 };
            return {
              ErrorCode: 0,
              Name: name,
              TopicId: t.id,
              Partitions: t.partitions.map((_, i) => ({ ErrorCode: 0, PartitionIndex: i, LeaderId: 0, LeaderEpoch: 0, ReplicaNodes: [0], IsrNodes: [0], OfflineReplicas: [] })),
              TopicAuthorizedOperations: -2147483648,
            };
          }),
          ClusterAuthorizedOperations: -2147483648,
        };
      }
      case 0: {
        const responses = recs(b.TopicData).map((t) => ({
          Name: t.Name,
          PartitionResponses: recs(t.PartitionData).map((p) => {
            const part = this.createTopic(t.Name as string).partitions[p.Index as number];
            if (!part) return { Index: p.Index, ErrorCode: 3, BaseOffset: -1n, LogAppendTimeMs: -1n, LogStartOffset: -1n };
            const base = part.next;
            this.append(part, (p.Records as Buffer | null) ?? Buffer.alloc(0));
            return { Index: p.Index, ErrorCode: 0, BaseOffset: base, LogAppendTimeMs: -1n, LogStartOffset: 0n };
          }),
        }));
        if (b.Acks === 0) return null;
        return { Responses: responses };
      }
      case 1: {
        const build = (): { body: Rec; bytes: number } => {
          let bytes = 0;
          const body = {
            ErrorCode: 0,
            SessionId: 0,
            Responses: recs(b.Topics).map((t) => ({
              Topic: t.Topic,
              Partitions: recs(t.Partitions).map((p) => {
                const part = this.partition(t.Topic as string, p.Partition as number);
                if (!part) return { PartitionIndex: p.Partition, ErrorCode: 3, HighWatermark: -1n, LastStableOffset: -1n, LogStartOffset: -1n, AbortedTransactions: [], PreferredReadReplica: -1, Records: Buffer.alloc(0) };
                const from = p.FetchOffset as bigint;
                const max = p.PartitionMaxBytes as number;
                const out: Buffer[] = [];
                let n = 0;
                for (const batch of part.batches) {
                  if (batch.last < from) continue;
                  if (out.length > 0 && n + batch.bytes.length > max) break;
                  out.push(batch.bytes);
                  n += batch.bytes.length;
                }
                bytes += n;
                return {
                  PartitionIndex: p.Partition, ErrorCode: 0, HighWatermark: part.next, LastStableOffset: part.next, LogStartOffset: 0n,
                  AbortedTransactions: [], PreferredReadReplica: -1, Records: Buffer.concat(out),
                };
              }),
            })),
          };
          return { body, bytes };
        };
        let r = build();
        if (r.bytes === 0 && (b.MaxWaitMs as number) > 0) {
          await new Promise((res) => setTimeout(res, Math.min(b.MaxWaitMs as number, 200)));
          r = build();
        }
        return r.body;
      }
      case 2:
        return {
          Topics: recs(b.Topics).map((t) => ({
            Name: t.Name,
            Partitions: recs(t.Partitions).map((p) => {
              const part = this.partition(t.Name as string, p.PartitionIndex as number);
              if (!part) return { PartitionIndex: p.PartitionIndex, ErrorCode: 3, Timestamp: -1n, Offset: -1n, LeaderEpoch: -1 };
              const off = p.Timestamp === -1n ? part.next : 0n;
              return { PartitionIndex: p.PartitionIndex, ErrorCode: 0, OldStyleOffsets: [off], Timestamp: -1n, Offset: off, LeaderEpoch: 0 };
            }),
          })),
        };
      case 10: {
        const adv = { NodeId: 0, Host: this.adv.host, Port: this.adv.port, ErrorCode: 0, ErrorMessage: null };
        if (v <= 3) return adv;
        return { Coordinators: (b.CoordinatorKeys as string[]).map((k) => ({ Key: k, ...adv })) };
      }
      case 11: {
        const gid = b.GroupId as string;
        const member = (b.MemberId as string) || `member-${randomUUID()}`;
        const proto = recs(b.Protocols)[0];
        const g = this.groups.get(gid) ?? { generation: 0, leader: '', protocol: '', metadata: Buffer.alloc(0), assignment: new Map(), offsets: new Map() };
        g.generation++;
        g.leader = member;
        g.protocol = (proto?.Name as string) ?? '';
        g.metadata = (proto?.Metadata as Buffer) ?? Buffer.alloc(0);
        this.groups.set(gid, g);
        return {
          ErrorCode: 0, GenerationId: g.generation, ProtocolType: b.ProtocolType, ProtocolName: g.protocol, Leader: member, MemberId: member,
          Members: [{ MemberId: member, GroupInstanceId: null, Metadata: g.metadata }],
        };
      }
      case 14: {
        const g = this.groups.get(b.GroupId as string);
        for (const a of recs(b.Assignments)) g?.assignment.set(a.MemberId as string, a.Assignment as Buffer);
        return { ErrorCode: g ? 0 : 16, ProtocolType: b.ProtocolType ?? null, ProtocolName: b.ProtocolName ?? null, Assignment: g?.assignment.get(b.MemberId as string) ?? Buffer.alloc(0) };
      }
      case 12:
        return { ErrorCode: 0 };
      case 13:
        return { ErrorCode: 0, Members: recs(b.Members).map((m) => ({ MemberId: m.MemberId, GroupInstanceId: m.GroupInstanceId, ErrorCode: 0 })) };
      case 8: {
        const g = this.groups.get(b.GroupId as string);
        return {
          Topics: recs(b.Topics).map((t) => ({
            Name: t.Name,
            Partitions: recs(t.Partitions).map((p) => {
              g?.offsets.set(`${t.Name as string}/${p.PartitionIndex as number}`, p.CommittedOffset as bigint);
              return { PartitionIndex: p.PartitionIndex, ErrorCode: 0 };
            }),
          })),
        };
      }
      case 9: {
        const topicsOf = (gid: string, list: unknown): Rec[] => {
          const g = this.groups.get(gid);
          return recs(list).map((t) => ({
            Name: t.Name,
            Partitions: (t.PartitionIndexes as number[]).map((i) => ({
              PartitionIndex: i, CommittedOffset: g?.offsets.get(`${t.Name as string}/${i}`) ?? -1n, CommittedLeaderEpoch: -1, Metadata: '', ErrorCode: 0,
            })),
          }));
        };
        if (v <= 7) return { Topics: topicsOf(b.GroupId as string, b.Topics), ErrorCode: 0 };
        return { Groups: recs(b.Groups).map((g) => ({ GroupId: g.GroupId, Topics: topicsOf(g.GroupId as string, g.Topics), ErrorCode: 0 })) };
      }
      case 22:
        return { ErrorCode: 0, ProducerId: this.producerIds++, ProducerEpoch: 0 };
      case 19:
        return {
          Topics: recs(b.Topics).map((t) => {
            const exists = this.topics.has(t.Name as string);
            const parts = (t.NumPartitions as number) > 0 ? (t.NumPartitions as number) : 1;
            const created = this.createTopic(t.Name as string, parts);
            return { Name: t.Name, TopicId: created.id, ErrorCode: exists ? 36 : 0, ErrorMessage: null, NumPartitions: parts, ReplicationFactor: 1, Configs: [] };
          }),
        };
      case 20:
        return { Responses: (b.TopicNames as string[]).map((n) => ({ Name: n, ErrorCode: this.topics.delete(n) ? 0 : 3, ErrorMessage: null })) };
      case 21:
        return { Topics: recs(b.Topics).map((t) => ({ Name: t.Name, Partitions: recs(t.Partitions).map((p) => ({ PartitionIndex: p.PartitionIndex, LowWatermark: p.Offset, ErrorCode: 0 })) })) };
      case 23:
        return {
          Topics: recs(b.Topics).map((t) => ({
            Topic: t.Topic,
            Partitions: recs(t.Partitions).map((p) => ({ ErrorCode: 0, Partition: p.Partition, LeaderEpoch: 0, EndOffset: this.partition(t.Topic as string, p.Partition as number)?.next ?? -1n })),
          })),
        };
      default:
        return null;
    }
  }

  /** Appends every record batch of a RECORDS blob, rewriting base offsets. */
  private append(part: Partition, records: Buffer): void {
    let at = 0;
    while (at + 12 <= records.length) {
      const len = records.readInt32BE(at + 8);
      const end = at + 12 + len;
      if (len < 49 || end > records.length) break;
      const bytes = Buffer.from(records.subarray(at, end));
      const lastDelta = bytes.readInt32BE(23);
      bytes.writeBigInt64BE(part.next, 0);
      part.batches.push({ base: part.next, last: part.next + BigInt(lastDelta), bytes });
      part.next += BigInt(lastDelta) + 1n;
      at = end;
    }
  }
}
