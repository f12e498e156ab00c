/**
 * Denials clients understand (docs/kafka.md "Denials", after kafka-dns §1.6): a synthetic response
 * of the request's API and version, every requested topic and partition mirrored in request
 * order, with 29 TOPIC_AUTHORIZATION_FAILED where the schema carries the error (per partition or
 * per topic), 30 GROUP_AUTHORIZATION_FAILED for the group APIs, 53 / 31 for transactional /
 * cluster ones. Offsets, epochs and node ids are -1, throttle 0, Fetch records zero-length (not
 * null: librdkafka cannot parse null). Requests with no deny shape return null: the caller closes.
 */
import type { DecodedRequest } from './request.js';
import { isFlexible } from './request.js';
import { encodeStruct, zeroFill, type Fill, type Rec } from './schema.js';
import { Writer } from './wire.js';

export const ERR_TOPIC_AUTHORIZATION_FAILED = 29;
export const ERR_GROUP_AUTHORIZATION_FAILED = 30;
export const ERR_CLUSTER_AUTHORIZATION_FAILED = 31;
export const ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53;

const MINUS_ONE = new Set([
  'BaseOffset', 'LogAppendTimeMs', 'LogStartOffset', 'HighWatermark', 'LastStableOffset', 'PreferredReadReplica', 'Timestamp',
  'Offset', 'LeaderEpoch', 'CommittedOffset', 'CommittedLeaderEpoch', 'LowWatermark', 'NodeId', 'Port', 'ControllerId',
  'GenerationId', 'ProducerId', 'ProducerEpoch', 'NumPartitions', 'ReplicationFactor', 'EndOffset',
]);
const NO_OPERATIONS = new Set(['TopicAuthorizedOperations', 'ClusterAuthorizedOperations']);

const denyFill: Fill = (fl, nullable) => {
  if (MINUS_ONE.has(fl.name)) return fl.type === 'int64' ? -1n : -1;
  if (NO_OPERATIONS.has(fl.name)) return -2147483648;
  if (fl.name === 'Records') return Buffer.alloc(0);
  if (typeof fl.type === 'object' && 'array' in fl.type && nullable) return null;
  return zeroFill(fl, nullable);
};

const recs = (v: unknown): Rec[] => (v as Rec[] | null) ?? [];

/** The error code a denial of this request carries. */
export function denyErrorCode(req: DecodedRequest): number | null {
  const { apiKey } = req.header;
  const b = req.body;
  switch (apiKey) {
    case 0: case 1: case 2: case 3: case 8: case 9: case 19: case 20: case 21: case 23:
      return ERR_TOPIC_AUTHORIZATION_FAILED;
    case 10:
      return b.KeyType === 1 ? ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED : ERR_GROUP_AUTHORIZATION_FAILED;
    case 11: case 12: case 13: case 14:
      return ERR_GROUP_AUTHORIZATION_FAILED;
    case 22:
      return b.TransactionalId === null ? ERR_CLUSTER_AUTHORIZATION_FAILED : ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    default:
      return null;
  }
}

function body(req: DecodedRequest, code: number): Rec | null {
  const b = req.body;
  const v = req.header.apiVersion;
  const parts = (list: unknown, idx: string, out: string, extra: Rec = {}): Rec[] =>
    recs(list).map((p) => ({ [out]: p[idx], ErrorCode: code, ...extra }));
  switch (req.header.apiKey) {
    case 0:
      return { Responses: recs(b.TopicData).map((t) => ({ Name: t.Name, PartitionResponses: parts(t.PartitionData, 'Index', 'Index') })) };
    case 1:
      return {
        ErrorCode: 0,
        SessionId: 0,
        Responses: recs(b.Topics).map((t) => ({ Topic: t.Topic, Partitions: parts(t.Partitions, 'Partition', 'PartitionIndex') })),
      };
    case 2:
    case 8:
      return { Topics: recs(b.Topics).map((t) => ({ Name: t.Name, Partitions: parts(t.Partitions, 'PartitionIndex', 'PartitionIndex') })) };
    case 3:
      return { Brokers: [], Topics: req.allTopics ? [] : req.topics.map((n) => ({ Name: n, ErrorCode: code })) };
    case 9: {
      const topics = (list: unknown): Rec[] =>
        recs(list).map((t) => ({ Name: t.Name, Partitions: (t.PartitionIndexes as number[]).map((i) => ({ PartitionIndex: i, ErrorCode: code })) }));
      if (v <= 7) return { Topics: topics(b.Topics), ErrorCode: b.Topics === null ? code : 0 };
      return { Groups: recs(b.Groups).map((g) => ({ GroupId: g.GroupId, Topics: topics(g.Topics), ErrorCode: g.Topics === null ? code : 0 })) };
    }
    case 19:
      return { Topics: recs(b.Topics).map((t) => ({ Name: t.Name, ErrorCode: code })) };
    case 20:
      return { Responses: (b.TopicNames as string[]).map((n) => ({ Name: n, ErrorCode: code })) };
    case 21:
      return { Topics: recs(b.Topics).map((t) => ({ Name: t.Name, Partitions: parts(t.Partitions, 'PartitionIndex', 'PartitionIndex') })) };
    case 23:
      return { Topics: recs(b.Topics).map((t) => ({ Topic: t.Topic, Partitions: parts(t.Partitions, 'Partition', 'Partition') })) };
    case 10:
      if (v <= 3) return { ErrorCode: code };
      return { Coordinators: (b.CoordinatorKeys as string[]).map((k) => ({ Key: k, ErrorCode: code })) };
    case 11:
    case 12:
    case 13:
    case 14:
    case 22:
      return { ErrorCode: code };
    default:
      return null;
  }
}

/** Writes `size + response header + body` for a response to `req` (header v0, or v1 when flexible and not ApiVersions). */
export function responseFrame(req: { header: { apiKey: number; apiVersion: number; correlationId: number } }, flexible: boolean, write: (w: Writer) => void): Buffer {
  const w = new Writer(128);
  w.int32(0).int32(req.header.correlationId);
  if (flexible && req.header.apiKey !== 18) w.uvarint(0);
  write(w);
  const out = Buffer.from(w.done());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** The synthetic deny response frame, or null when this request has no deny shape (close instead). */
export function denyResponse(req: DecodedRequest): { frame: Buffer; errorCode: number } | null {
  const code = denyErrorCode(req);
  if (code === null) return null;
  const obj = body(req, code);
  if (obj === null) return null;
  const v = req.header.apiVersion;
  const flex = isFlexible(req.table, v);
  const frame = responseFrame(req, flex, (w) => encodeStruct(req.table.response, v, flex, w, obj, denyFill));
  return { frame, errorCode: code };
}
