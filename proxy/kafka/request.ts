/**
 * Request side of the codec: the frame header (request header v0-v2, docs/kafka.md "Framing"),
 * the strict body decode against the API table, and the topic set the policy judges
 * (kafka-dns K3/K5 as copied into docs/kafka.md "Topics").
 */
import { apiTable, type ApiTable } from './apis.js';
import { decodeStruct, readTagged, type Rec } from './schema.js';
import { Reader, malformed } from './wire.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Offset of the body inside the frame (after the size prefix). */
  bodyOffset: number;
}

/**
 * Reads the header fields every request version shares: key, version and correlation id at fixed
 * offsets, then the int16-length client id (kept non-compact even in header v2). `frame` starts
 * after the 4-byte size prefix. The tagged section of header v2 is read by `decodeRequest`.
 */
export function readRequestHeader(frame: Buffer): RequestHeader {
  const r = new Reader(frame);
  const apiKey = r.int16('api_key');
  const apiVersion = r.int16('api_version');
  const correlationId = r.int32('correlation_id');
  if (apiVersion < 0) throw malformed(`Kafka request api_version ${apiVersion} is negative`, 'api_version');
  // Header v0 (no client id) only for ControlledShutdown v0, which has no table here.
  const clientId = apiKey === 7 && apiVersion === 0 ? null : r.string(false, true, 'client_id');
  return { apiKey, apiVersion, correlationId, clientId, bodyOffset: r.pos };
}

export interface DecodedRequest {
  header: RequestHeader;
  table: ApiTable;
  body: Rec;
  /** Topic names (deduplicated, request order). */
  topics: string[];
  /** The request asks for all topics (null list, empty Metadata v0 list). */
  allTopics: boolean;
}

export function isFlexible(t: ApiTable, version: number): boolean {
  return version >= t.flexible;
}

/**
 * Decodes the whole request strictly: a (key, version) without a table, a truncated field, an
 * impossible length or leftover bytes all throw (TND_KAFKA_TRUNCATED / TND_KAFKA_MALFORMED).
 */
export function decodeRequest(frame: Buffer, header: RequestHeader = readRequestHeader(frame)): DecodedRequest {
  const table = apiTable(header.apiKey, header.apiVersion);
  if (!table) throw malformed(`Kafka API key ${header.apiKey} version ${header.apiVersion} has no table`, 'api_version');
  const flex = isFlexible(table, header.apiVersion);
  const r = new Reader(frame, header.bodyOffset);
  if (flex) readTagged([], 0, r, {});
  const body = decodeStruct(table.request, header.apiVersion, flex, r);
  if (r.remaining !== 0) throw malformed(`Kafka ${table.name} v${header.apiVersion} request has ${r.remaining} leftover bytes`, 'body');
  const { topics, allTopics } = requestTopics(header.apiKey, header.apiVersion, body);
  return { header, table, body, topics, allTopics };
}

type Topics = { topics: string[]; allTopics: boolean };

function names(list: unknown, field: string, out: Set<string>): void {
  for (const t of (list as Rec[] | null) ?? []) {
    const n = t[field];
    if (typeof n !== 'string') throw malformed(`Kafka request names a topic only by id (${field} is null)`, field);
    out.add(n);
  }
}

/** Where each API carries topic names (docs/kafka.md "Topics"). */
export function requestTopics(key: number, version: number, body: Rec): Topics {
  const out = new Set<string>();
  let all = false;
  switch (key) {
    case 0:
      names(body.TopicData, 'Name', out);
      break;
    case 1:
      // ForgottenTopicsData lists topics leaving the fetch session: not read, not checked.
      names(body.Topics, 'Topic', out);
      break;
    case 2:
    case 8:
    case 19:
    case 21:
      names(body.Topics, 'Name', out);
      break;
    case 3:
      if (body.Topics === null || (version === 0 && (body.Topics as unknown[]).length === 0)) all = true;
      else names(body.Topics, 'Name', out);
      break;
    case 9:
      if (version <= 7) {
        if (body.Topics === null) all = true;
        else names(body.Topics, 'Name', out);
      } else {
        for (const g of body.Groups as Rec[]) {
          if (g.Topics === null) all = true;
          else names(g.Topics, 'Name', out);
        }
      }
      break;
    case 20:
      for (const n of body.TopicNames as string[]) out.add(n);
      break;
    case 23:
      names(body.Topics, 'Topic', out);
      break;
    default:
      break;
  }
  return { topics: [...out], allTopics: all };
}
