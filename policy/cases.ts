/**
 * cases.yaml (policy-trace contract): a list of connection attempts with optional L7 payloads.
 * Peers are checked against the world later, in trace().
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { AggregateInputError, TendrilError, type L4Protocol } from '../core/index.js';
import type { PeerRef } from './api.js';
import { DocContext, type FieldPath } from './doc-context.js';
import type { Payload } from './evaluate.js';
import { kafkaKeyByName } from './kafka-keys.js';
import { ICMP_ANY_TYPE } from './match-peer.js';

export interface TraceCase {
  id: string;
  from: PeerRef;
  to: PeerRef;
  port: number;
  protocol: L4Protocol;
  payload: Payload | null;
  expect?: string;
  /** Field path of this case in the file, for messages. */
  where: string;
}

const PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP', 'SCTP', 'ICMP'];

export function loadCases(path: string): TraceCase[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TendrilError('TND_CASES_INVALID', `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
  return parseCases(text, path);
}

export function parseCases(text: string, file: string): TraceCase[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new TendrilError('TND_CASES_INVALID', `${file}: invalid YAML: ${e.message.split('\n')[0]}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`, { file });
  }
  const errors: TendrilError[] = [];
  const ctx = new DocContext(file, 1, doc, lines, errors, 'TND_CASES_INVALID');
  let raw: unknown = doc.toJS({ maxAliasCount: 100 });
  let base: FieldPath = [];
  if (ctx.isMap(raw) && Array.isArray(raw.cases)) {
    raw = raw.cases;
    base = ['cases'];
  }
  const list = ctx.list(raw, base) ?? [];
  const out: TraceCase[] = [];
  // Ids are echoed back, one line per case in order; a repeated id is not an input error.
  list.forEach((c, i) => {
    const tc = parseCase(ctx, c, [...base, i], i);
    if (!tc) return;
    out.push(tc);
  });
  if (errors.length > 0) throw new AggregateInputError('TND_CASES_INVALID', errors);
  return out;
}

function parsePeer(ctx: DocContext, v: unknown, path: FieldPath): PeerRef | null {
  if (typeof v === 'string') {
    if (!/^[^/\s]+\/[^/\s]+$/.test(v)) {
      ctx.error(path, `must be "<namespace>/<pod>" or a mapping {ip|fqdn|entity}, got ${JSON.stringify(v)}`);
      return null;
    }
    return { endpoint: v };
  }
  if (!ctx.isMap(v)) {
    ctx.error(path, 'must be "<namespace>/<pod>" or a mapping with one of ip, fqdn, entity, endpoint');
    return null;
  }
  const keys = Object.keys(v).filter((k) => ['ip', 'fqdn', 'entity', 'endpoint', 'service'].includes(k));
  if (keys.length !== 1 || typeof v[keys[0]] !== 'string') {
    ctx.error(path, 'must have exactly one of ip, fqdn, entity, endpoint, service (a string)');
    return null;
  }
  const k = keys[0];
  const s = v[k] as string;
  if (k === 'service') {
    if (!/^[^/\s]+\/[^/\s]+$/.test(s)) {
      ctx.error([...path, 'service'], `must be "<namespace>/<service>", got ${JSON.stringify(s)}`);
      return null;
    }
    return { service: s };
  }
  return k === 'ip' ? { ip: s } : k === 'fqdn' ? { fqdn: s } : k === 'entity' ? { entity: s } : { endpoint: s };
}

function parseCase(ctx: DocContext, v: unknown, path: FieldPath, index: number): TraceCase | null {
  if (!ctx.isMap(v)) {
    ctx.error(path, 'a case must be a mapping');
    return null;
  }
  const id = v.id === undefined ? `case-${index + 1}` : String(v.id);
  const from = parsePeer(ctx, v.from, [...path, 'from']);
  const to = parsePeer(ctx, v.to, [...path, 'to']);
  let protocol: L4Protocol = 'TCP';
  if (v.protocol !== undefined && v.protocol !== null) {
    const up = String(v.protocol).toUpperCase();
    const p = up === 'ICMPV6' || up === 'ICMP6' || up === 'ICMPV4' ? 'ICMP' : up;
    if (!PROTOCOLS.includes(p as L4Protocol)) {
      ctx.error([...path, 'protocol'], `must be one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(v.protocol)}`);
      return null;
    }
    protocol = p as L4Protocol;
  }
  let port = 0;
  // For ICMP, `port` (or `icmpType`/`type`) is the ICMP type; without one, any type.
  const rawValue = protocol === 'ICMP' ? (v.icmpType ?? v.type ?? v.port) : v.port;
  const field = protocol === 'ICMP' && v.port === undefined ? (v.icmpType !== undefined ? 'icmpType' : 'type') : 'port';
  const rawPort = typeof rawValue === 'string' && /^\d+$/.test(rawValue) ? Number(rawValue) : rawValue;
  const max = protocol === 'ICMP' ? 255 : 65535;
  if (rawPort === undefined || rawPort === null) {
    if (protocol !== 'ICMP') {
      ctx.error([...path, 'port'], 'is required (1-65535)');
      return null;
    }
    port = ICMP_ANY_TYPE;
  } else if (typeof rawPort !== 'number' || !Number.isInteger(rawPort) || rawPort < 0 || rawPort > max) {
    ctx.error([...path, field], `must be 0-${max}, got ${JSON.stringify(rawValue)}`);
    return null;
  } else port = rawPort;
  const kinds = ['http', 'kafka', 'dns'].filter((k) => v[k] !== undefined && v[k] !== null);
  if (kinds.length > 1) {
    ctx.error(path, `a case carries at most one of http, kafka, dns, got ${kinds.join(' and ')}`);
    return null;
  }
  let payload: Payload | null = null;
  if (kinds[0]) {
    const p = parsePayload(ctx, kinds[0], v[kinds[0]], [...path, kinds[0]]);
    if (!p) return null;
    payload = p;
  }
  if (!from || !to) return null;
  return { id, from, to, port, protocol, payload, expect: v.expect === undefined ? undefined : String(v.expect), where: `case ${index + 1} (${id})` };
}

/**
 * A case names the request's API key: Cilium's policy names (§9) plus the Kafka protocol's own
 * spellings (`ListOffsets`, `init_producer_id`, keys above 33), since a case describes a request,
 * not a rule.
 */
const CASE_KAFKA_ALIASES: Record<string, number> = {
  listoffsets: 2, groupcoordinator: 10, consumermetadata: 10, alterreplicalogdirs: 34,
  describelogdirs: 35, saslauthenticate: 36, createpartitions: 37, deletegroups: 42,
};
function caseKafkaKey(name: string): number | undefined {
  const n = name.toLowerCase().replace(/[-_ ]/g, '');
  return kafkaKeyByName(n) ?? CASE_KAFKA_ALIASES[n];
}

function parsePayload(ctx: DocContext, kind: string, v: unknown, path: FieldPath): Payload | null {
  if (!ctx.isMap(v)) {
    ctx.error(path, 'must be a mapping');
    return null;
  }
  if (kind === 'http') {
    const headers: Record<string, string | string[]> = {};
    let rawH = v.headers;
    // Also accepted: a list of "Name: value" lines.
    if (Array.isArray(rawH) && rawH.every((x) => typeof x === 'string')) rawH = headerLines(rawH as string[]);
    if (rawH !== undefined && rawH !== null && !ctx.isMap(rawH)) {
      ctx.error([...path, 'headers'], 'must be a mapping of header name to value (or a list of "Name: value")');
      return null;
    }
    for (const [k, val] of Object.entries(rawH ?? {})) headers[k.toLowerCase()] = Array.isArray(val) ? val.map(String) : String(val);
    const method = v.method === undefined ? 'GET' : String(v.method);
    const p = v.path === undefined ? '/' : String(v.path);
    const host = v.host === undefined ? String(headers.host ?? '') : String(v.host);
    return { kind: 'http', req: { method, path: p, host, headers }, text: `${method} ${p}` };
  }
  if (kind === 'kafka') {
    let apiKey: number | undefined;
    const k = v.apiKey ?? v.api_key;
    if (typeof k === 'number' && Number.isInteger(k) && k >= 0) apiKey = k;
    else if (typeof k === 'string') apiKey = /^\d+$/.test(k) ? Number(k) : caseKafkaKey(k);
    if (apiKey === undefined) {
      ctx.error([...path, 'apiKey'], `must be a Kafka API key name or number, got ${JSON.stringify(k)}`);
      return null;
    }
    const apiVersion = v.apiVersion === undefined ? 0 : Number(v.apiVersion);
    if (!Number.isInteger(apiVersion)) {
      ctx.error([...path, 'apiVersion'], `must be an integer, got ${JSON.stringify(v.apiVersion)}`);
      return null;
    }
    const topics = Array.isArray(v.topics) ? v.topics.map(String) : v.topic !== undefined && v.topic !== null ? [String(v.topic)] : [];
    const rawClient = v.clientID ?? v.clientId;
    const clientID = rawClient === undefined || rawClient === null ? null : String(rawClient);
    return { kind: 'kafka', req: { apiKey, apiVersion, clientID, topics }, text: `apiKey ${String(k)} v${apiVersion} topics [${topics.join(', ')}]` };
  }
  const query = v.query ?? v.name;
  if (typeof query !== 'string') {
    ctx.error([...path, 'query'], 'is required (a DNS name)');
    return null;
  }
  return { kind: 'dns', req: { query }, text: `query ${query}` };
}

function headerLines(lines: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = (i < 0 ? line : line.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? '' : line.slice(i + 1).trim();
    const prev = out[name];
    out[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return out;
}
