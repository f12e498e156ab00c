/**
 * Kafka flows (Hubble's `l7.kafka`: api_key, api_version, correlation_id, topic, error_code;
 * docs/kafka.md "Flows"): one REQUEST flow per topic of a judged request (one with no topic for
 * topic-less requests), FORWARDED or DROPPED with the deciding policy; one RESPONSE flow per topic
 * when the broker's answer (or the proxy's deny) is relayed, with latency_ns; a DROPPED request
 * flow with INVALID_PACKET_DROPPED for a frame the proxy refused to parse (connection closed).
 */
import type { Flow, FlowSink, Kafka } from '../../observe/index.js';
import { newFlow, nowNs, outcomeFromVerdict } from '../../observe/index.js';
import type { Verdict } from '../../policy/api.js';
import type { FlowConnContext } from '../flows.js';

export interface KafkaFlowFacts {
  apiKey: string;
  apiVersion: number;
  correlationId: number;
  topics: readonly string[];
}

function base(ctx: FlowConnContext, reply: boolean): Pick<Flow, 'IP' | 'l4' | 'source' | 'destination' | 'node_name' | 'traffic_direction' | 'proxy_port' | 'is_reply'> {
  const c = ctx.conn;
  const ip = reply ? { source: c.dstIp, destination: c.srcIp } : { source: c.srcIp, destination: c.dstIp };
  const ports = reply ? { source_port: c.dstPort, destination_port: c.srcPort } : { source_port: c.srcPort, destination_port: c.dstPort };
  return {
    IP: { ...ip, ipVersion: ip.source.includes(':') ? 'IPv6' : 'IPv4' },
    l4: { TCP: ports },
    source: reply ? ctx.destination : ctx.source,
    destination: reply ? ctx.source : ctx.destination,
    node_name: ctx.nodeName,
    traffic_direction: ctx.direction,
    proxy_port: ctx.proxyPort,
    is_reply: reply,
  };
}

function records(f: KafkaFlowFacts, errorCode: number | undefined): Kafka[] {
  const topics = f.topics.length === 0 ? [undefined] : f.topics;
  return topics.map((topic) => {
    const k: Kafka = { api_key: f.apiKey, api_version: f.apiVersion, correlation_id: f.correlationId };
    if (errorCode !== undefined) k.error_code = errorCode;
    if (topic !== undefined) k.topic = topic;
    return k;
  });
}

/** REQUEST flows of a judged request (error_code 0 when forwarded, the deny code when denied). */
export function emitRequest(sink: FlowSink, ctx: FlowConnContext, f: KafkaFlowFacts, verdict: Verdict, errorCode: number): void {
  if (sink.enabled === false) return;
  const outcome = outcomeFromVerdict(verdict);
  for (const kafka of records(f, errorCode)) {
    sink.emit(newFlow({ ...base(ctx, false), ...outcome, l7: { type: 'REQUEST', kafka } }));
  }
}

/** RESPONSE flows: the broker's answer relayed (FORWARDED) or the proxy's deny (DROPPED). */
export function emitResponse(sink: FlowSink, ctx: FlowConnContext, f: KafkaFlowFacts, startNs: bigint, denied: { errorCode: number; reason: string } | null): void {
  if (sink.enabled === false) return;
  const latency = Number(nowNs() - startNs);
  for (const kafka of records(f, denied?.errorCode)) {
    const flow = newFlow({
      ...base(ctx, true),
      verdict: denied ? 'DROPPED' : 'FORWARDED',
      l7: { type: 'RESPONSE', latency_ns: latency, kafka },
      ...(denied ? { drop_reason_desc: 'POLICY_DENIED', policy_log: [denied.reason] } : {}),
    });
    sink.emit(flow);
  }
}

/** A frame the proxy would not parse: DROPPED INVALID_PACKET_DROPPED, the connection is closed. */
export function emitMalformed(sink: FlowSink, ctx: FlowConnContext, f: KafkaFlowFacts | null, reason: string): void {
  if (sink.enabled === false) return;
  const kafka: Kafka = f ? { api_key: f.apiKey, api_version: f.apiVersion, correlation_id: f.correlationId } : { api_key: '' };
  sink.emit(newFlow({
    ...base(ctx, false),
    verdict: 'DROPPED',
    drop_reason_desc: 'INVALID_PACKET_DROPPED',
    policy_log: [`malformed Kafka request, connection closed: ${reason}`],
    l7: { type: 'REQUEST', kafka },
  }));
}
