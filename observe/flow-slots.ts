/**
 * Column storage for the ring buffer. Retaining thousands of flow objects makes every
 * young-generation GC copy them (≈ 3 µs per flow measured, see bench/observe.ts "flow
 * retention"), so a flow of the common proxy shape (TCP ports without flags, an HTTP record
 * without headers, a `newFlow` time) is taken apart into typed arrays and references to the
 * values it already shares with other flows (endpoints, policy outcomes, interned strings), and
 * rebuilt on read. Only its URL string (and a non-default Summary or uuid) stays alive per flow. Any
 * other flow is kept as the object itself. `get(put(flow))` is JSON-equal to `flow`.
 */
import type { Flow, HTTP, IP, Layer7 } from './flow.js';
import { formatFlowTimeParts } from './new-flow.js';
import { isHttpSummary, summarize } from './summary.js';

const L7_TYPES = ['UNKNOWN_L7_TYPE', 'REQUEST', 'RESPONSE', 'SAMPLE'] as const;
const IP_VERSIONS = ['IP_NOT_USED', 'IPv4', 'IPv6'] as const;

/** The Flow keys, in newFlow's order, kept by reference (slot layout of `refs`; see put/get). */
const REF_KEYS = [
  'verdict', 'drop_reason_desc', 'source', 'destination', 'Type', 'node_name', 'source_names', 'destination_names',
  'is_reply', 'event_type', 'source_service', 'destination_service', 'traffic_direction', 'policy_match_type',
  'trace_observation_point', 'proxy_port', 'socket_cookie', 'cgroup_id', 'auth_type', 'trace_context',
  'egress_allowed_by', 'ingress_allowed_by', 'egress_denied_by', 'ingress_denied_by', 'policy_log',
] as const satisfies ReadonlyArray<keyof Flow>;
const REF_COUNT = REF_KEYS.length;


let lastPrefix = '';
let lastSeconds = 0;

/** Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (cached: consecutive flows share it). */
function seconds(prefix: string): number {
  if (prefix !== lastPrefix) {
    lastPrefix = prefix;
    lastSeconds = Date.parse(`${prefix}Z`) / 1000;
  }
  return lastSeconds;
}

/**
 * True for the common proxy shape. Only the fields of the Flow type are considered: properties
 * outside it (which the type does not allow) would not survive compaction.
 */
function isCompactable(f: Flow): boolean {
  const t = f.time;
  if (t.length !== 30 || t.charCodeAt(19) !== 46 || t.charCodeAt(29) !== 90) return false;
  const l4 = f.l4;
  const tcp = l4?.TCP;
  if (!tcp || tcp.flags !== undefined || l4!.UDP || l4!.SCTP || l4!.ICMPv4 || l4!.ICMPv6) return false;
  const l7 = f.l7;
  const http = l7?.http;
  if (!http || l7!.dns || l7!.kafka || http.headers !== undefined) return false;
  const ip = f.IP;
  if (!ip || ip.encrypted !== undefined) return false;
  return true;
}

/** Lowercase hex digit values by char code (-1: not one). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;

/** The 32-bit value of the 8 lowercase hex digits of `u` at `from` (skipping a dash at `dash`), or -1. */
function word(u: string, from: number, dash: number): number {
  let w = 0;
  for (let i = from, n = 0; n < 8; i++) {
    if (i === dash) continue;
    const c = u.charCodeAt(i);
    const d = c < 128 ? HEX[c]! : -1;
    if (d < 0) return -1;
    w = w * 16 + d;
    n++;
  }
  return w;
}

/**
 * Stores a canonical lowercase UUID (`8-4-4-4-12` hex digits, what randomUUID returns) as four
 * 32-bit words at `bits[at..at+3]`; returns false (nothing stored) for any other string. Keeping
 * numbers instead of the string means the ring retains no per-flow uuid object.
 */
function packUuid(u: string, bits: Uint32Array, at: number): boolean {
  if (u.length !== 36 || u.charCodeAt(8) !== 45 || u.charCodeAt(13) !== 45 || u.charCodeAt(18) !== 45 || u.charCodeAt(23) !== 45) return false;
  // 8-4-4-4-12: words are digits 0-7, 9-12 + 14-17, 19-22 + 24-27, 28-35.
  const a = word(u, 0, -1);
  const b = word(u, 9, 13);
  const c = word(u, 19, 23);
  const d = word(u, 28, -1);
  if (a < 0 || b < 0 || c < 0 || d < 0) return false;
  bits[at] = a;
  bits[at + 1] = b;
  bits[at + 2] = c;
  bits[at + 3] = d;
  return true;
}

function unpackUuid(bits: Uint32Array, at: number): string {
  const h = (i: number): string => bits[at + i]!.toString(16).padStart(8, '0');
  const a = h(0);
  const b = h(1);
  const c = h(2);
  const d = h(3);
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
}

export class FlowSlots {
  private readonly objects: (Flow | undefined)[];
  /** REF_KEYS values of slot k at [k * REF_COUNT, (k + 1) * REF_COUNT). */
  private readonly refs: unknown[];
  private readonly sec: Float64Array;
  private readonly nanos: Uint32Array;
  /** The uuid when it is not a canonical lowercase UUID (else its 128 bits are in `uuidBits`). */
  private readonly uuids: (string | undefined)[];
  private readonly uuidBits: Uint32Array;
  private readonly nums: Float64Array;
  private readonly small: Uint16Array;
  private readonly ipSrc: (string | undefined)[];
  private readonly ipDst: (string | undefined)[];
  private readonly method: (string | undefined)[];
  private readonly url: (string | undefined)[];
  private readonly proto: (string | undefined)[];
  private readonly summary: (string | undefined)[];

  constructor(readonly capacity: number) {
    this.objects = new Array(capacity);
    this.refs = new Array(capacity * REF_COUNT);
    this.sec = new Float64Array(capacity);
    this.nanos = new Uint32Array(capacity);
    this.uuids = new Array(capacity);
    this.uuidBits = new Uint32Array(capacity * 4);
    this.nums = new Float64Array(capacity); // latency_ns (NaN = absent)
    this.small = new Uint16Array(capacity * 5); // sport, dport, code, l7 type, ip version
    this.ipSrc = new Array(capacity);
    this.ipDst = new Array(capacity);
    this.method = new Array(capacity);
    this.url = new Array(capacity);
    this.proto = new Array(capacity);
    this.summary = new Array(capacity);
  }

  put(k: number, f: Flow): void {
    if (!isCompactable(f)) {
      this.objects[k] = f;
      return;
    }
    this.objects[k] = undefined;
    // Explicit loads: a computed key per field would make each load megamorphic.
    const r = this.refs;
    const b = k * REF_COUNT;
    r[b + 0] = f.verdict;
    r[b + 1] = f.drop_reason_desc;
    r[b + 2] = f.source;
    r[b + 3] = f.destination;
    r[b + 4] = f.Type;
    r[b + 5] = f.node_name;
    r[b + 6] = f.source_names;
    r[b + 7] = f.destination_names;
    r[b + 8] = f.is_reply;
    r[b + 9] = f.event_type;
    r[b + 10] = f.source_service;
    r[b + 11] = f.destination_service;
    r[b + 12] = f.traffic_direction;
    r[b + 13] = f.policy_match_type;
    r[b + 14] = f.trace_observation_point;
    r[b + 15] = f.proxy_port;
    r[b + 16] = f.socket_cookie;
    r[b + 17] = f.cgroup_id;
    r[b + 18] = f.auth_type;
    r[b + 19] = f.trace_context;
    r[b + 20] = f.egress_allowed_by;
    r[b + 21] = f.ingress_allowed_by;
    r[b + 22] = f.egress_denied_by;
    r[b + 23] = f.ingress_denied_by;
    r[b + 24] = f.policy_log;
    this.sec[k] = seconds(f.time.slice(0, 19));
    this.nanos[k] = Number(f.time.slice(20, 29));
    this.uuids[k] = packUuid(f.uuid, this.uuidBits, k * 4) ? undefined : f.uuid;
    const tcp = f.l4!.TCP!;
    const l7 = f.l7!;
    const http = l7.http!;
    this.small[k * 5] = tcp.source_port;
    this.small[k * 5 + 1] = tcp.destination_port;
    this.small[k * 5 + 2] = http.code;
    this.small[k * 5 + 3] = L7_TYPES.indexOf(l7.type);
    this.small[k * 5 + 4] = IP_VERSIONS.indexOf(f.IP!.ipVersion);
    this.nums[k] = l7.latency_ns ?? Number.NaN;
    this.ipSrc[k] = f.IP!.source;
    this.ipDst[k] = f.IP!.destination;
    this.method[k] = http.method;
    this.url[k] = http.url;
    this.proto[k] = http.protocol;
    this.summary[k] = isHttpSummary(f.Summary, l7) ? undefined : f.Summary;
  }

  get(k: number): Flow | undefined {
    const o = this.objects[k];
    if (o !== undefined || this.url[k] === undefined) return o;
    const r = (i: number): any => this.refs[k * REF_COUNT + i];
    const http: HTTP = { code: this.small[k * 5 + 2]!, method: this.method[k]!, url: this.url[k]!, protocol: this.proto[k]! };
    const l7: Layer7 = { type: L7_TYPES[this.small[k * 5 + 3]!]! };
    if (!Number.isNaN(this.nums[k]!)) l7.latency_ns = this.nums[k]!;
    l7.http = http;
    const ip: IP = { source: this.ipSrc[k]!, destination: this.ipDst[k]!, ipVersion: IP_VERSIONS[this.small[k * 5 + 4]!]! };
    const flow: Flow = {
      time: formatFlowTimeParts(this.sec[k]!, this.nanos[k]!),
      uuid: this.uuids[k] ?? unpackUuid(this.uuidBits, k * 4),
      verdict: r(0),
      drop_reason_desc: r(1),
      IP: ip,
      l4: { TCP: { source_port: this.small[k * 5]!, destination_port: this.small[k * 5 + 1]! } },
      source: r(2),
      destination: r(3),
      Type: r(4),
      node_name: r(5),
      source_names: r(6),
      destination_names: r(7),
      l7,
      is_reply: r(8),
      event_type: r(9),
      source_service: r(10),
      destination_service: r(11),
      traffic_direction: r(12),
      policy_match_type: r(13),
      trace_observation_point: r(14),
      proxy_port: r(15),
      socket_cookie: r(16),
      cgroup_id: r(17),
      auth_type: r(18),
      trace_context: r(19),
      egress_allowed_by: r(20),
      ingress_allowed_by: r(21),
      egress_denied_by: r(22),
      ingress_denied_by: r(23),
      policy_log: r(24),
      Summary: '',
    };
    flow.Summary = this.summary[k] ?? summarize(flow);
    return flow;
  }
}
