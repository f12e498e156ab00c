/**
 * The `Summary` string Cilium's parser puts in every flow and the hubble CLI prints verbatim as
 * the last column of a compact line. Conventions: docs/reference/hubble-compat.md §3.3.
 */
import type { DNS, Flow, Kafka, Layer4, Layer7, TCPFlags } from './flow.js';
import { icmpv4TypeCode, icmpv6TypeCode } from './icmp.js';

/** Flag order of the TCP summary: SYN, ACK, RST, FIN, PSH, URG, ECE, CWR, NS. */
const TCP_FLAG_ORDER: ReadonlyArray<keyof TCPFlags> = ['SYN', 'ACK', 'RST', 'FIN', 'PSH', 'URG', 'ECE', 'CWR', 'NS'];

/** gopacket's DNS rcode names (note the trailing space of `Server Failure ` upstream). */
const DNS_RCODE_TEXT: Readonly<Record<number, string>> = {
  0: 'No Error',
  1: 'Format Error',
  2: 'Server Failure ',
  3: 'Non-Existent Domain',
  4: 'Not Implemented',
  5: 'Query Refused',
  6: 'Name Exists when it should not',
  7: 'RR Set Exists when it should not',
  8: 'RR Set that should exist does not',
  9: 'Server Not Authoritative for zone',
  10: 'Name not contained in zone',
};

/** The rcode text of a DNS answer (`Non-Existent Domain`, `Query Refused`, ...). */
export function dnsRcodeText(rcode: number): string {
  return DNS_RCODE_TEXT[rcode] ?? `${rcode}`;
}

/** `TCP Flags: SYN, ACK` / `UDP` / `ICMPv4 EchoRequest` ... */
export function l4Summary(l4: Layer4 | undefined): string {
  if (!l4) return '';
  if (l4.TCP) {
    const f = l4.TCP.flags ?? {};
    const set = TCP_FLAG_ORDER.filter((k) => f[k] === true);
    return `TCP Flags: ${set.join(', ')}`;
  }
  if (l4.UDP) return 'UDP';
  if (l4.SCTP) return 'SCTP';
  if (l4.ICMPv4) return `ICMPv4 ${icmpv4TypeCode(l4.ICMPv4.type, l4.ICMPv4.code)}`;
  if (l4.ICMPv6) return `ICMPv6 ${icmpv6TypeCode(l4.ICMPv6.type, l4.ICMPv6.code)}`;
  return '';
}

function dnsSummary(type: Layer7['type'], dns: DNS): string {
  const qtypes = (dns.qtypes ?? []).join(',');
  if (type === 'REQUEST') return `DNS Query ${dns.query} ${qtypes}`;
  const src = dns.observation_source === 'proxy' ? 'Proxy' : 'Query';
  const tail = ` TTL: ${dns.ttl ?? 0} (${src} ${dns.query} ${qtypes})`;
  if ((dns.rcode ?? 0) !== 0) return `DNS Answer RCode: ${dnsRcodeText(dns.rcode ?? 0)}${tail}`;
  const cnames = dns.cnames && dns.cnames.length > 0 ? ` CNAMEs: "${dns.cnames.join(',')}"` : '';
  return `DNS Answer "${(dns.ips ?? []).join(',')}"${cnames}${tail}`;
}

function kafkaSummary(type: Layer7['type'], k: Kafka): string {
  const base = `correlation id ${k.correlation_id ?? 0} topic '${k.topic ?? ''}'`;
  if (type === 'RESPONSE') return `Kafka response ${k.api_key} ${base} return code ${k.error_code ?? 0}`;
  return `Kafka request ${k.api_key} ${base}`;
}

/** Summary of an L7 record (HTTP, DNS or Kafka). */
export function l7Summary(l7: Layer7): string {
  if (l7.http) {
    const h = l7.http;
    if (l7.type === 'RESPONSE') {
      const ms = Math.floor((l7.latency_ns ?? 0) / 1e6);
      return `${h.protocol} ${h.code} ${ms}ms (${h.method} ${h.url})`;
    }
    return `${h.protocol} ${h.method} ${h.url}`;
  }
  if (l7.dns) return dnsSummary(l7.type, l7.dns);
  if (l7.kafka) return kafkaSummary(l7.type, l7.kafka);
  return '';
}

/**
 * True when `s === l7Summary(l7)` for an HTTP record, decided without building the string (the
 * ring checks it for every flow it compacts).
 */
export function isHttpSummary(s: string, l7: Layer7): boolean {
  const h = l7.http;
  if (!h) return false;
  const p = h.protocol;
  const m = h.method;
  const u = h.url;
  let at: number;
  if (l7.type === 'RESPONSE') {
    const mid = ` ${h.code} ${Math.floor((l7.latency_ns ?? 0) / 1e6)}ms (`;
    if (s.length !== p.length + mid.length + m.length + u.length + 2) return false;
    if (!s.startsWith(p) || !s.startsWith(mid, p.length)) return false;
    at = p.length + mid.length;
    if (!s.startsWith(m, at) || s.charCodeAt(at + m.length) !== 32) return false;
    return s.startsWith(u, at + m.length + 1) && s.charCodeAt(s.length - 1) === 41;
  }
  if (s.length !== p.length + m.length + u.length + 2) return false;
  if (!s.startsWith(p) || s.charCodeAt(p.length) !== 32) return false;
  at = p.length + 1;
  if (!s.startsWith(m, at) || s.charCodeAt(at + m.length) !== 32) return false;
  return s.startsWith(u, at + m.length + 1);
}

/** The Summary Cilium would attach to this flow: L7 record first, else the L4 summary. */
export function summarize(flow: Pick<Flow, 'l4' | 'l7'>): string {
  if (flow.l7) return l7Summary(flow.l7);
  return l4Summary(flow.l4);
}
