/**
 * Conversion between the Flow record (Hubble JSON shape) and the proto-loader objects of
 * observe/proto/flow.proto. Differences: `time` is a Timestamp, `is_reply` a BoolValue, the
 * deprecated `reply`/`drop_reason` mirror `is_reply`/`drop_reason_desc`, and proto-loader adds
 * oneof discriminators that the JSON shape does not have.
 */
import { dropReasonNumber } from './enums.js';
import type { Flow, LostEvent } from './flow.js';
import type { FlowFilter } from './filter.js';
import { formatFlowTime, parseFlowTime } from './new-flow.js';

/** google.protobuf.Timestamp as proto-loader represents it. */
export interface WireTimestamp {
  seconds: number;
  nanos: number;
}

export function nsToTimestamp(ns: bigint): WireTimestamp {
  const seconds = ns / 1_000_000_000n;
  return { seconds: Number(seconds), nanos: Number(ns - seconds * 1_000_000_000n) };
}

export function timestampToNs(ts: { seconds?: number | string; nanos?: number } | null | undefined): bigint | undefined {
  if (!ts) return undefined;
  return BigInt(ts.seconds ?? 0) * 1_000_000_000n + BigInt(ts.nanos ?? 0);
}

/** Flow -> proto-loader object for flow.Flow. */
export function flowToWire(flow: Flow): Record<string, unknown> {
  const { time, is_reply, ...rest } = flow;
  const ns = parseFlowTime(time);
  const wire: Record<string, unknown> = { ...rest };
  if (ns !== null) wire.time = nsToTimestamp(ns);
  if (is_reply !== undefined) {
    wire.is_reply = { value: is_reply };
    wire.reply = is_reply;
  }
  if (flow.drop_reason_desc) wire.drop_reason = dropReasonNumber(flow.drop_reason_desc);
  return wire;
}

function stripOneofs(o: unknown): unknown {
  if (Array.isArray(o)) return o.map(stripOneofs);
  if (o === null || typeof o !== 'object') return o;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (k === 'protocol' && typeof v === 'string' && ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6'].includes(v)) continue;
    if (k === 'record' && typeof v === 'string') continue;
    out[k] = stripOneofs(v);
  }
  return out;
}

/** proto-loader flow.Flow object -> Flow (fills the enum defaults proto3 leaves out). */
export function flowFromWire(wire: Record<string, unknown>): Flow {
  const { time, is_reply, reply: _reply, drop_reason: _dr, ...rest } = wire as Record<string, unknown> & {
    time?: WireTimestamp;
    is_reply?: { value?: boolean };
  };
  const flow = stripOneofs(rest) as Flow;
  const ns = timestampToNs(time);
  flow.time = ns === undefined ? '' : formatFlowTime(ns);
  if (is_reply) flow.is_reply = is_reply.value === true;
  flow.uuid ??= '';
  flow.verdict ??= 'VERDICT_UNKNOWN';
  flow.Type ??= 'UNKNOWN_TYPE';
  flow.node_name ??= '';
  flow.event_type ??= { type: 0 };
  flow.event_type.type ??= 0;
  flow.traffic_direction ??= 'TRAFFIC_DIRECTION_UNKNOWN';
  flow.Summary ??= '';
  return flow;
}

/** Wire LostEvent. */
export function lostToWire(ev: LostEvent): Record<string, unknown> {
  return { source: ev.source, num_events_lost: ev.num_events_lost };
}

/** proto-loader FlowFilter -> FlowFilter (they share field names; drop empty lists). */
export function filterFromWire(f: Record<string, unknown>): FlowFilter {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (!Array.isArray(v) || v.length > 0) out[k] = v;
  return out as FlowFilter;
}
