/**
 * The DNS proxy's flows (Hubble's `l7.dns`, docs/reference/hubble-compat.md; docs/dns.md "Flows"):
 * a REQUEST flow per admitted query (FORWARDED, or DROPPED with the deciding policy), a
 * RESPONSE flow per relayed answer (rcode, IPs, TTL, CNAMEs, RR types, latency), an ERROR
 * response flow when the upstream failed, and a DROPPED flow (INVALID_PACKET_DROPPED) for a
 * malformed query answered FORMERR/NOTIMP. `observation_source` is `proxy` on every record.
 */
import type { DNS, Endpoint, Flow, FlowSink, IP, Layer4 } from '../../observe/index.js';
import { newFlow, nowFlowTime, outcomeFromVerdict } from '../../observe/index.js';
import type { Verdict } from '../../policy/api.js';
import type { DescribeEndpoint } from '../flows.js';
import type { DnsTarget } from './dns-source.js';
import { typeName, type ParsedQuery, type ParsedResponse } from './wire.js';

export interface DnsFlowConn {
  source: Endpoint;
  destination: Endpoint;
  ipOut: IP;
  ipBack: IP;
  l4Out: Layer4;
  l4Back: Layer4;
  proxyPort: number;
}

const SOURCE = 'proxy';

export class DnsFlows {
  constructor(
    private readonly sink: FlowSink,
    private readonly describe: DescribeEndpoint,
    private readonly nodeName: string,
  ) {}

  get enabled(): boolean {
    return this.sink.enabled !== false;
  }

  conn(t: DnsTarget, transport: 'UDP' | 'TCP', proxyPort: number): DnsFlowConn {
    const v = (ip: string): IP['ipVersion'] => (ip.includes(':') ? 'IPv6' : 'IPv4');
    const s = t.source;
    const d = t.destination;
    return {
      source: this.describe(s.endpoint, s.ip),
      destination: this.describe(d.endpoint, d.ip),
      ipOut: { source: s.ip, destination: d.ip, ipVersion: v(s.ip) },
      ipBack: { source: d.ip, destination: s.ip, ipVersion: v(d.ip) },
      l4Out: { [transport]: { source_port: s.port, destination_port: d.port } },
      l4Back: { [transport]: { source_port: d.port, destination_port: s.port } },
      proxyPort,
    };
  }

  private emit(c: DnsFlowConn, reply: boolean, dns: DNS, rest: Partial<Flow> & Pick<Flow, 'verdict'>, latencyNs?: number): void {
    if (!this.enabled) return;
    this.sink.emit(
      newFlow({
        time: nowFlowTime(),
        IP: reply ? c.ipBack : c.ipOut,
        l4: reply ? c.l4Back : c.l4Out,
        source: reply ? c.destination : c.source,
        destination: reply ? c.source : c.destination,
        node_name: this.nodeName,
        l7: reply ? { type: 'RESPONSE', latency_ns: latencyNs ?? 0, dns } : { type: 'REQUEST', dns },
        is_reply: reply,
        traffic_direction: 'EGRESS',
        proxy_port: c.proxyPort,
        ...rest,
      }),
    );
  }

  request(c: DnsFlowConn, q: ParsedQuery, verdict: Verdict): void {
    if (!this.enabled) return;
    const dns: DNS = { query: q.name.normalized, qtypes: [typeName(q.qtype)], observation_source: SOURCE };
    this.emit(c, false, dns, { ...outcomeFromVerdict(verdict) });
  }

  response(c: DnsFlowConn, q: ParsedQuery, r: ParsedResponse, started: bigint): void {
    if (!this.enabled) return;
    const dns: DNS = {
      query: q.name.normalized,
      ips: r.ips,
      ttl: r.ttl ?? 0,
      cnames: r.cnames,
      observation_source: SOURCE,
      rcode: r.rcode,
      qtypes: [typeName(q.qtype)],
      rrtypes: r.rrtypes,
    };
    this.emit(c, true, dns, { verdict: 'FORWARDED' }, Number(process.hrtime.bigint() - started));
  }

  upstreamError(c: DnsFlowConn, q: ParsedQuery, reason: string, started: bigint): void {
    if (!this.enabled) return;
    const dns: DNS = { query: q.name.normalized, qtypes: [typeName(q.qtype)], observation_source: SOURCE };
    this.emit(c, true, dns, { verdict: 'ERROR', policy_log: [reason] }, Number(process.hrtime.bigint() - started));
  }

  malformed(c: DnsFlowConn, rcode: number, reason: string): void {
    if (!this.enabled) return;
    const dns: DNS = { query: '', observation_source: SOURCE, rcode };
    this.emit(c, false, dns, { verdict: 'DROPPED', drop_reason_desc: 'INVALID_PACKET_DROPPED', policy_log: [`malformed DNS query answered with rcode ${rcode}: ${reason}`] });
  }
}
