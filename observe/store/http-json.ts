/**
 * The store writer's serializer for flows rebuilt from HttpFlowRecords: the same text as
 * `JSON.stringify(flow)` for a flow built by `buildHttpFlow` (key order and omissions included),
 * but the JSON of the values a batch shares (endpoints, policy outcomes) is computed once per
 * batch instead of once per flow. The writer checks the first flow of every batch against
 * JSON.stringify and falls back to it for the whole batch on any difference.
 */
import type { Flow } from '../flow.js';
import type { HttpFlowRecord } from '../http-flow.js';

const s = JSON.stringify;

export class HttpFlowJson {
  private readonly shared = new Map<unknown, string>();

  /** The JSON of an object shared between flows of the batch (cached by identity). */
  private json(v: unknown): string {
    let j = this.shared.get(v);
    if (j === undefined) {
      j = s(v);
      this.shared.set(v, j);
    }
    return j;
  }

  /** `,"key":value`, or '' for undefined; `shared` objects have their JSON cached. */
  private prop(key: string, v: unknown, shared = true): string {
    if (v === undefined) return '';
    return `,"${key}":${shared && typeof v === 'object' && v !== null ? this.json(v) : s(v)}`;
  }

  /** `JSON.stringify(flow)` where `flow = buildHttpFlow(rec)` (node_name possibly replaced since). */
  stringify(f: Flow, rec: HttpFlowRecord): string {
    const ip = f.IP!;
    const tcp = f.l4!.TCP!;
    const l7 = f.l7!;
    const h = l7.http!;
    let out =
      `{"time":${s(f.time)},"uuid":${s(f.uuid)},"verdict":${s(f.verdict)}` +
      `,"IP":{"source":${s(ip.source)},"destination":${s(ip.destination)},"ipVersion":${s(ip.ipVersion)}}` +
      `,"l4":{"TCP":{"source_port":${s(tcp.source_port)},"destination_port":${s(tcp.destination_port)}}}` +
      this.prop('source', f.source) +
      this.prop('destination', f.destination) +
      `,"Type":${s(f.Type)}` +
      this.prop('node_name', f.node_name) +
      `,"l7":{"type":${s(l7.type)}${l7.latency_ns === undefined ? '' : `,"latency_ns":${s(l7.latency_ns)}`}` +
      `,"http":{"code":${s(h.code)},"method":${s(h.method)},"url":${s(h.url)},"protocol":${s(h.protocol)}}}` +
      `,"is_reply":${s(f.is_reply)},"event_type":{"type":${s(f.event_type.type)}}` +
      this.prop('traffic_direction', f.traffic_direction) +
      this.prop('proxy_port', f.proxy_port) +
      `,"Summary":${s(f.Summary)}`;
    if (rec.kind === 0) {
      const o = rec.outcome!;
      for (const k in o) if (k !== 'verdict') out += this.prop(k, (o as Record<string, unknown>)[k]);
    } else if (rec.kind === 1) {
      out += this.prop('drop_reason_desc', f.drop_reason_desc) + this.prop('policy_log', f.policy_log, false);
    } else {
      out += this.prop('policy_log', f.policy_log, false) + this.prop('drop_reason_desc', f.drop_reason_desc);
    }
    return `${out}}`;
  }
}
