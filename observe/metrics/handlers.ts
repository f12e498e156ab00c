/**
 * One handler per Hubble metric plugin, fed every flow (the cilium pkg/hubble/metrics model:
 * metrics are computed from flows, never inside the proxy). Names, labels and which flows count:
 * docs/reference/hubble-compat.md §4.2. Deliberate differences from upstream quirks: ICMPv6 flows get
 * family `IPv6` in hubble_icmp_total; help texts say what is counted.
 */
import type { Registry } from 'prom-client';
import { FastHistogram, FastCounter } from './fast-metrics.js';
import { TRACE_SUB_TYPES } from '../enums.js';
import type { Flow } from '../flow.js';
import { icmpv4TypeCode, icmpv6TypeCode } from '../icmp.js';
import { ContextLabels, swapSides } from './context.js';
import type { MetricSpec } from './options.js';

export interface MetricHandler {
  process(flow: Flow): void;
}

const DNS_RCODES: Record<number, string> = {
  0: 'No Error', 1: 'Format Error', 2: 'Server Failure', 3: 'Non-Existent Domain', 4: 'Not Implemented', 5: 'Query Refused',
  6: 'Name Exists when it should not', 7: 'RR Set Exists when it should not', 8: 'RR Set that should exist does not',
  9: 'Server Not Authoritative for zone', 10: 'Name not contained in zone',
};

/** The shared `protocol` label (flow, drop, flows-to-world). */
export function protocolLabel(flow: Flow): string {
  const t = flow.event_type.type;
  if (t === 1 || t === 3 || t === 4 || t === 5) {
    const l4 = flow.l4;
    if (l4?.TCP) return 'TCP';
    if (l4?.UDP) return 'UDP';
    if (l4?.ICMPv4) return 'ICMPv4';
    if (l4?.ICMPv6) return 'ICMPv6';
    if (l4?.SCTP) return 'SCTP';
    return 'Unknown L4';
  }
  if (t === 129) {
    if (flow.l7?.dns) return 'DNS';
    if (flow.l7?.http) return 'HTTP';
    if (flow.l7?.kafka) return 'Kafka';
    return 'Unknown L7';
  }
  return 'Unknown flow';
}

function reporter(flow: Flow): string {
  return flow.traffic_direction === 'EGRESS' ? 'client' : flow.traffic_direction === 'INGRESS' ? 'server' : 'unknown';
}

function flowTypeLabels(flow: Flow): { type: string; subtype: string } {
  const t = flow.event_type.type;
  switch (t) {
    case 129:
      return { type: 'L7', subtype: flow.l7?.dns ? 'DNS' : flow.l7?.http ? 'HTTP' : flow.l7?.kafka ? 'Kafka' : '' };
    case 1:
      return { type: 'Drop', subtype: '' };
    case 3:
      return { type: 'Capture', subtype: '' };
    case 4:
      return { type: 'Trace', subtype: TRACE_SUB_TYPES[flow.event_type.sub_type ?? 0] ?? String(flow.event_type.sub_type) };
    case 5:
      return { type: 'PolicyVerdict', subtype: '' };
    default:
      return { type: 'Unknown', subtype: String(t) };
  }
}

const isForwarded = (f: Flow): boolean => f.verdict === 'FORWARDED' || f.verdict === 'REDIRECTED';

type Make = (spec: MetricSpec, reg: Registry) => MetricHandler;

/** A counter whose label names are the context names plus the plugin's own. */
function counter(reg: Registry, name: string, help: string, ctx: ContextLabels, own: string[]): FastCounter {
  return new FastCounter(reg, name, help, [...ctx.names, ...own]);
}

function histogram(reg: Registry, name: string, help: string, ctx: ContextLabels, own: string[]): FastHistogram {
  return new FastHistogram(reg, name, help, [...ctx.names, ...own]);
}

const dns: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const withQuery = 'query' in spec.options;
  const ignoreAAAA = 'ignoreAAAA' in spec.options;
  const own = ['rcode', 'qtypes', 'ips_returned', ...(withQuery ? ['query'] : [])];
  const queries = counter(reg, 'hubble_dns_queries_total', 'Number of DNS queries observed', ctx, own);
  const responses = counter(reg, 'hubble_dns_responses_total', 'Number of DNS responses observed', ctx, own);
  const types = counter(reg, 'hubble_dns_response_types_total', 'Number of DNS response types', ctx, ['type', 'qtypes', ...(withQuery ? ['query'] : [])]);
  return {
    process(flow) {
      const d = flow.l7?.dns;
      if (!d) return;
      if (ignoreAAAA && d.qtypes?.[0] === 'AAAA') return;
      const qtypes = (d.qtypes ?? []).join(',');
      const c = ctx.list(flow);
      const q = withQuery ? [d.query] : [];
      const ips = String(d.ips?.length ?? 0);
      if (flow.verdict === 'DROPPED') queries.inc([...c, 'Policy denied', qtypes, ips, ...q]);
      else if (flow.is_reply !== true) queries.inc([...c, '', qtypes, ips, ...q]);
      else {
        responses.inc([...c, DNS_RCODES[d.rcode ?? 0] ?? String(d.rcode), qtypes, ips, ...q]);
        for (const rr of d.rrtypes ?? []) types.inc([...c, rr, qtypes, ...q]);
      }
    },
  };
};

const drop: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const c = counter(reg, 'hubble_drop_total', 'Number of drops', ctx, ['reason', 'protocol']);
  return {
    process(flow) {
      if (flow.verdict !== 'DROPPED') return;
      c.inc([...ctx.list(flow), flow.drop_reason_desc ?? 'DROP_REASON_UNKNOWN', protocolLabel(flow)]);
    },
  };
};

const tcp: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const c = counter(reg, 'hubble_tcp_flags_total', 'TCP flag occurrences', ctx, ['flag', 'family']);
  return {
    process(flow) {
      const f = flow.l4?.TCP?.flags;
      if (!f || !flow.IP || !isForwarded(flow)) return;
      const family = flow.IP.ipVersion;
      const inc = (flag: string): void => c.inc([...ctx.list(flow), flag, family]);
      if (f.FIN) inc('FIN');
      if (f.SYN) inc(f.ACK ? 'SYN-ACK' : 'SYN');
      if (f.RST) inc('RST');
    },
  };
};

const flowMetric: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const c = counter(reg, 'hubble_flows_processed_total', 'Total number of flows processed', ctx, ['protocol', 'type', 'subtype', 'verdict']);
  return {
    process(flow) {
      const t = flowTypeLabels(flow);
      c.inc([...ctx.list(flow), protocolLabel(flow), t.type, t.subtype, flow.verdict]);
    },
  };
};

const portDistribution: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const c = counter(reg, 'hubble_port_distribution_total', 'Numbers of packets distributed by destination port', ctx, ['protocol', 'port']);
  return {
    process(flow) {
      if (flow.is_reply !== false || !flow.l4 || !isForwarded(flow)) return;
      const l4 = flow.l4;
      let protocol = '';
      let port = '0';
      if (l4.TCP) [protocol, port] = ['TCP', String(l4.TCP.destination_port)];
      else if (l4.UDP) [protocol, port] = ['UDP', String(l4.UDP.destination_port)];
      else if (l4.SCTP) [protocol, port] = ['SCTP', String(l4.SCTP.destination_port)];
      else if (l4.ICMPv4) protocol = 'ICMPv4';
      else if (l4.ICMPv6) protocol = 'ICMPv6';
      else return;
      c.inc([...ctx.list(flow), protocol, port]);
    },
  };
};

const icmp: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const c = counter(reg, 'hubble_icmp_total', 'Number of ICMP messages', ctx, ['family', 'type']);
  return {
    process(flow) {
      const v4 = flow.l4?.ICMPv4;
      const v6 = flow.l4?.ICMPv6;
      if (v4) c.inc([...ctx.list(flow), 'IPv4', icmpv4TypeCode(v4.type, v4.code)]);
      else if (v6) c.inc([...ctx.list(flow), 'IPv6', icmpv6TypeCode(v6.type, v6.code)]);
    },
  };
};

const http: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const requests = counter(reg, 'hubble_http_requests_total', 'Count of HTTP requests', ctx, ['method', 'protocol', 'reporter']);
  const responses = counter(reg, 'hubble_http_responses_total', 'Count of HTTP responses', ctx, ['method', 'protocol', 'status', 'reporter']);
  const duration = histogram(reg, 'hubble_http_request_duration_seconds', 'Quantiles of HTTP request duration in seconds', ctx, ['method', 'reporter']);
  return {
    process(flow) {
      const h = flow.l7?.http;
      if (!h) return;
      const c = ctx.list(flow);
      const rep = reporter(flow);
      if (flow.l7!.type === 'REQUEST') requests.inc([...c, h.method, h.protocol, rep]);
      else if (flow.l7!.type === 'RESPONSE') {
        responses.inc([...c, h.method, h.protocol, String(h.code), rep]);
        duration.observe([...c, h.method, rep], (flow.l7!.latency_ns ?? 0) / 1e9);
      }
    },
  };
};

const httpV2: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const requests = counter(reg, 'hubble_http_requests_total', 'Count of HTTP requests (counted at the response)', ctx, ['method', 'protocol', 'status', 'reporter']);
  const duration = histogram(reg, 'hubble_http_request_duration_seconds', 'Quantiles of HTTP request duration in seconds', ctx, ['method', 'reporter']);
  return {
    process(flow) {
      const h = flow.l7?.http;
      if (!h || flow.l7!.type !== 'RESPONSE') return;
      const c = ctx.names.length > 0 ? ctx.list(swapSides(flow)) : [];
      const rep = reporter(flow);
      requests.inc([...c, h.method, h.protocol, String(h.code), rep]);
      duration.observe([...c, h.method, rep], (flow.l7!.latency_ns ?? 0) / 1e9);
    },
  };
};

const kafka: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const requests = counter(reg, 'hubble_kafka_requests_total', 'Count of Kafka requests', ctx, ['topic', 'api_key', 'error_code', 'reporter']);
  const duration = histogram(reg, 'hubble_kafka_request_duration_seconds', 'Quantiles of Kafka request duration in seconds', ctx, ['topic', 'api_key', 'reporter']);
  return {
    process(flow) {
      const k = flow.l7?.kafka;
      if (!k || flow.l7!.type !== 'REQUEST') return;
      const c = ctx.list(flow);
      const rep = reporter(flow);
      requests.inc([...c, k.topic ?? '', k.api_key, String(k.error_code ?? 0), rep]);
      duration.observe([...c, k.topic ?? '', k.api_key, rep], (flow.l7!.latency_ns ?? 0) / 1e9);
    },
  };
};

const MATCH = ['none', 'l3-only', 'l3-l4', 'l4-only', 'all', 'l3-proto', 'proto-only'];

const policy: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const c = counter(reg, 'hubble_policy_verdicts_total', 'Number of policy verdict events', ctx, ['direction', 'match', 'action']);
  return {
    process(flow) {
      let match: string;
      if (flow.event_type.type === 5) {
        if (flow.source?.identity === 1) return;
        match = MATCH[flow.policy_match_type ?? 0] ?? String(flow.policy_match_type);
      } else if (flow.event_type.type === 129 && flow.l7) {
        match = flow.l7.http ? 'l7/http' : flow.l7.dns ? 'l7/dns' : flow.l7.kafka ? 'l7/kafka' : 'l7/unknown';
      } else return;
      const direction = flow.traffic_direction === 'TRAFFIC_DIRECTION_UNKNOWN' ? 'unknown' : flow.traffic_direction.toLowerCase();
      c.inc([...ctx.list(flow), direction, match, flow.verdict.toLowerCase()]);
    },
  };
};

const flowsToWorld: Make = (spec, reg) => {
  const ctx = new ContextLabels(spec.options);
  const withPort = 'port' in spec.options;
  const anyDrop = 'any-drop' in spec.options;
  const synOnly = 'syn-only' in spec.options;
  const c = counter(reg, 'hubble_flows_to_world_total', 'Total number of flows to reserved:world', ctx, ['protocol', 'verdict', ...(withPort ? ['port'] : [])]);
  return {
    process(flow) {
      if (flow.is_reply === true || !(flow.destination?.labels ?? []).includes('reserved:world')) return;
      if (flow.verdict === 'DROPPED' && !anyDrop && flow.drop_reason_desc !== 'POLICY_DENIED') return;
      if (flow.verdict !== 'DROPPED' && flow.verdict !== 'FORWARDED' && flow.verdict !== 'REDIRECTED') return;
      if (synOnly && flow.l4?.TCP && !(flow.l4.TCP.flags?.SYN && !flow.l4.TCP.flags.ACK)) return;
      const values = [...ctx.list(flow), protocolLabel(flow), flow.verdict];
      if (withPort) {
        const p = flow.l4?.TCP ?? flow.l4?.UDP ?? flow.l4?.SCTP;
        values.push(p ? String(p.destination_port) : '');
      }
      c.inc(values);
    },
  };
};

export const HANDLERS: Record<MetricSpec['name'], Make> = {
  dns,
  drop,
  tcp,
  flow: flowMetric,
  'port-distribution': portDistribution,
  icmp,
  http,
  httpV2,
  kafka,
  policy,
  'flows-to-world': flowsToWorld,
};
