/**
 * flow.FlowFilter evaluated the way Hubble's server does (hubble-compat §2.3):
 * - within one repeated field, ANY value may match (OR);
 * - within one FlowFilter, EVERY field that is set must match (AND);
 * - a flow passes a request when it matches ANY whitelist filter (or there is none) and NO
 *   blacklist filter.
 * Filters are compiled once per request; invalid ones throw TND_OBSERVE_QUERY naming the field.
 */
import { TendrilError } from '../core/index.js';
import { EVENT_TYPES } from './enums.js';
import type { Endpoint, Flow, Service, TCPFlags, Workload } from './flow.js';
import { compileLabelSelector } from './labels.js';

/** flow.EventTypeFilter. */
export interface EventTypeFilter {
  type: number;
  match_sub_type?: boolean;
  sub_type?: number;
}

/** flow.FlowFilter (proto field names; enums by name). Every field optional. */
export interface FlowFilter {
  uuid?: string[];
  source_ip?: string[];
  source_pod?: string[];
  source_fqdn?: string[];
  source_label?: string[];
  source_service?: string[];
  source_workload?: Workload[];
  source_identity?: number[];
  destination_ip?: string[];
  destination_pod?: string[];
  destination_fqdn?: string[];
  destination_label?: string[];
  destination_service?: string[];
  destination_workload?: Workload[];
  destination_identity?: number[];
  traffic_direction?: string[];
  verdict?: string[];
  drop_reason_desc?: string[];
  event_type?: EventTypeFilter[];
  http_status_code?: string[];
  protocol?: string[];
  source_port?: string[];
  destination_port?: string[];
  reply?: boolean[];
  dns_query?: string[];
  http_method?: string[];
  http_path?: string[];
  http_url?: string[];
  tcp_flags?: TCPFlags[];
  node_name?: string[];
  ip_version?: string[];
  trace_id?: string[];
}

export type FlowPredicate = (flow: Flow) => boolean;

const bad = (field: string, msg: string): TendrilError =>
  new TendrilError('TND_OBSERVE_QUERY', `${field}: ${msg}`, { field });

function parseCidr(value: string, field: string): (ip: string | undefined) => boolean {
  if (!value.includes('/')) return (ip) => ip === value;
  const [addr, lenStr] = value.split('/') as [string, string];
  const v6 = addr.includes(':');
  const bits = v6 ? 128 : 32;
  const len = Number(lenStr);
  const base = ipToBigInt(addr);
  if (base === null || !/^\d{1,3}$/.test(lenStr) || len > bits) throw bad(field, `invalid IP or CIDR ${JSON.stringify(value)}`);
  const shift = BigInt(bits - len);
  const prefix = base >> shift;
  return (ip) => {
    if (ip === undefined || ip.includes(':') !== v6) return false;
    const n = ipToBigInt(ip);
    return n !== null && n >> shift === prefix;
  };
}

/** IPv4 or IPv6 address as an integer, or null when malformed. */
function ipToBigInt(ip: string): bigint | null {
  if (!ip.includes(':')) {
    const parts = ip.split('.');
    if (parts.length !== 4) return null;
    let n = 0n;
    for (const p of parts) {
      if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
      n = (n << 8n) | BigInt(p);
    }
    return n;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(`0x${g}`);
  }
  return n;
}

/** `[ns/][prefix]`; no `/` means namespace `default`; `ns/` matches the whole namespace. */
function podMatcher(value: string, field: string): (ep: Endpoint | undefined) => boolean {
  if (value === '') throw bad(field, 'empty pod filter');
  const slash = value.indexOf('/');
  const ns = slash >= 0 ? value.slice(0, slash) : 'default';
  const prefix = slash >= 0 ? value.slice(slash + 1) : value;
  return (ep) => ep !== undefined && (ep.namespace ?? '') === ns && (prefix === '' || (ep.pod_name ?? '').startsWith(prefix));
}

function serviceMatcher(value: string, field: string): (svc: Service | undefined) => boolean {
  if (value === '') throw bad(field, 'empty service filter');
  const slash = value.indexOf('/');
  const ns = slash >= 0 ? value.slice(0, slash) : 'default';
  const prefix = slash >= 0 ? value.slice(slash + 1) : value;
  return (svc) => svc !== undefined && svc.namespace === ns && svc.name.startsWith(prefix);
}

function globRegex(pattern: string, field: string, star: string): RegExp {
  if (!/^[-a-zA-Z0-9_.*/]+$/.test(pattern)) throw bad(field, `invalid pattern ${JSON.stringify(pattern)}`);
  const body = pattern.toLowerCase().replace(/\.$/, '').replace(/\./g, '[.]').replace(/\*/g, star);
  return new RegExp(`^${body}$`);
}

function regex(pattern: string, field: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw bad(field, `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

function l4Ports(flow: Flow): { src: number; dst: number } | null {
  const l4 = flow.l4;
  const p = l4?.TCP ?? l4?.UDP ?? l4?.SCTP;
  return p ? { src: p.source_port, dst: p.destination_port } : null;
}

function hasProtocol(flow: Flow, proto: string): boolean {
  switch (proto) {
    case 'tcp':
      return flow.l4?.TCP !== undefined;
    case 'udp':
      return flow.l4?.UDP !== undefined;
    case 'sctp':
      return flow.l4?.SCTP !== undefined;
    case 'icmp':
      return flow.l4?.ICMPv4 !== undefined || flow.l4?.ICMPv6 !== undefined;
    case 'icmpv4':
      return flow.l4?.ICMPv4 !== undefined;
    case 'icmpv6':
      return flow.l4?.ICMPv6 !== undefined;
    case 'dns':
      return flow.l7?.dns !== undefined;
    case 'http':
      return flow.l7?.http !== undefined;
    case 'kafka':
      return flow.l7?.kafka !== undefined;
    default:
      return false;
  }
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'icmp', 'icmpv4', 'icmpv6', 'dns', 'http', 'kafka']);

function urlPath(url: string): string {
  try {
    return new URL(url, 'http://x').pathname;
  } catch {
    return url;
  }
}

/** Compiles one FlowFilter into an AND of per-field ORs. `at` names it in errors. */
export function compileFilter(f: FlowFilter, at: string): FlowPredicate {
  const checks: FlowPredicate[] = [];
  const any = <T>(name: keyof FlowFilter, values: T[] | undefined, build: (v: T, field: string) => FlowPredicate): void => {
    if (!values || values.length === 0) return;
    const preds = values.map((v, i) => build(v, `${at}.${name}[${i}]`));
    checks.push(preds.length === 1 ? preds[0]! : (flow) => preds.some((p) => p(flow)));
  };

  any('uuid', f.uuid, (v) => (flow) => flow.uuid === v);
  any('source_ip', f.source_ip, (v, field) => {
    const m = parseCidr(v, field);
    return (flow) => m(flow.IP?.source);
  });
  any('destination_ip', f.destination_ip, (v, field) => {
    const m = parseCidr(v, field);
    return (flow) => m(flow.IP?.destination);
  });
  any('source_pod', f.source_pod, (v, field) => {
    const m = podMatcher(v, field);
    return (flow) => m(flow.source);
  });
  any('destination_pod', f.destination_pod, (v, field) => {
    const m = podMatcher(v, field);
    return (flow) => m(flow.destination);
  });
  any('source_service', f.source_service, (v, field) => {
    const m = serviceMatcher(v, field);
    return (flow) => m(flow.source_service);
  });
  any('destination_service', f.destination_service, (v, field) => {
    const m = serviceMatcher(v, field);
    return (flow) => m(flow.destination_service);
  });
  any('source_fqdn', f.source_fqdn, (v, field) => {
    const re = globRegex(v, field, '.*');
    return (flow) => (flow.source_names ?? []).some((n) => re.test(n.toLowerCase()));
  });
  any('destination_fqdn', f.destination_fqdn, (v, field) => {
    const re = globRegex(v, field, '.*');
    return (flow) => (flow.destination_names ?? []).some((n) => re.test(n.toLowerCase()));
  });
  any('source_label', f.source_label, (v, field) => {
    const m = compileLabelSelector(v, field);
    return (flow) => m(flow.source?.labels);
  });
  any('destination_label', f.destination_label, (v, field) => {
    const m = compileLabelSelector(v, field);
    return (flow) => m(flow.destination?.labels);
  });
  any('source_identity', f.source_identity, (v) => (flow) => (flow.source?.identity ?? 0) === v);
  any('destination_identity', f.destination_identity, (v) => (flow) => (flow.destination?.identity ?? 0) === v);
  const workload = (w: Workload) => (ep: Endpoint | undefined) =>
    (ep?.workloads ?? []).some((x) => (w.name === '' || x.name === w.name) && (w.kind === '' || !w.kind || x.kind.toLowerCase() === w.kind.toLowerCase()));
  any('source_workload', f.source_workload, (v) => {
    const m = workload(v);
    return (flow) => m(flow.source);
  });
  any('destination_workload', f.destination_workload, (v) => {
    const m = workload(v);
    return (flow) => m(flow.destination);
  });
  any('traffic_direction', f.traffic_direction, (v) => (flow) => flow.traffic_direction === v);
  any('verdict', f.verdict, (v) => (flow) => flow.verdict === v);
  any('drop_reason_desc', f.drop_reason_desc, (v) => (flow) => (flow.drop_reason_desc ?? 'DROP_REASON_UNKNOWN') === v);
  any('event_type', f.event_type, (v) => (flow) => {
    if (v.type !== 0 && flow.event_type.type !== v.type) return false;
    return !v.match_sub_type || (flow.event_type.sub_type ?? 0) === (v.sub_type ?? 0);
  });
  any('http_status_code', f.http_status_code, (v, field) => {
    const m = /^(\d{1,3})(\+?)$/.exec(v);
    if (!m) throw bad(field, `invalid HTTP status code filter ${JSON.stringify(v)} (want e.g. 404 or 5+)`);
    const [, digits, plus] = m;
    return (flow) => {
      const code = flow.l7?.http?.code ?? 0;
      if (code === 0) return false;
      return plus ? String(code).startsWith(digits!) : String(code) === digits;
    };
  });
  any('protocol', f.protocol, (v, field) => {
    const p = v.toLowerCase();
    if (!PROTOCOLS.has(p)) throw bad(field, `unknown protocol ${JSON.stringify(v)} (want one of ${[...PROTOCOLS].join(', ')})`);
    return (flow) => hasProtocol(flow, p);
  });
  const port = (side: 'src' | 'dst') => (v: string, field: string): FlowPredicate => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > 65535) throw bad(field, `invalid port ${JSON.stringify(v)}`);
    return (flow) => {
      const p = l4Ports(flow);
      return p !== null && p[side] === n;
    };
  };
  any('source_port', f.source_port, port('src'));
  any('destination_port', f.destination_port, port('dst'));
  any('reply', f.reply, (v) => (flow) => flow.is_reply !== undefined && flow.is_reply === v);
  any('dns_query', f.dns_query, (v, field) => {
    const re = regex(v, field);
    return (flow) => flow.l7?.dns !== undefined && re.test(flow.l7.dns.query);
  });
  any('http_method', f.http_method, (v) => {
    const m = v.toUpperCase();
    return (flow) => flow.l7?.http !== undefined && flow.l7.http.method.toUpperCase() === m;
  });
  any('http_path', f.http_path, (v, field) => {
    const re = regex(v, field);
    return (flow) => flow.l7?.http !== undefined && re.test(urlPath(flow.l7.http.url));
  });
  any('http_url', f.http_url, (v, field) => {
    const re = regex(v, field);
    return (flow) => flow.l7?.http !== undefined && re.test(flow.l7.http.url);
  });
  any('tcp_flags', f.tcp_flags, (want) => {
    const keys = (Object.keys(want) as Array<keyof TCPFlags>).filter((k) => want[k] === true);
    return (flow) => {
      const have = flow.l4?.TCP?.flags;
      return have !== undefined && keys.every((k) => have[k] === true);
    };
  });
  any('node_name', f.node_name, (v, field) => {
    const pattern = v.includes('/') ? v.slice(v.indexOf('/') + 1) : v;
    const re = globRegex(pattern, field, '[^.]*');
    return (flow) => re.test(flow.node_name.toLowerCase());
  });
  any('ip_version', f.ip_version, (v) => (flow) => (flow.IP?.ipVersion ?? 'IP_NOT_USED') === v);
  any('trace_id', f.trace_id, (v) => (flow) => flow.trace_context?.parent?.trace_id === v);

  const needsL7 = (f.http_status_code?.length ?? 0) > 0 || (f.http_method?.length ?? 0) > 0;
  if (needsL7 && f.event_type && f.event_type.length > 0 && !f.event_type.some((e) => e.type === 0 || e.type === EVENT_TYPES.l7)) {
    throw bad(`${at}.event_type`, 'http_status_code and http_method filters need an event_type that includes 129 (l7)');
  }
  return (flow) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(flow)) return false;
    return true;
  };
}

/** Whitelist (OR) minus blacklist (OR) as one predicate. */
export function compileFilters(whitelist: FlowFilter[] = [], blacklist: FlowFilter[] = []): FlowPredicate {
  const wl = whitelist.map((f, i) => compileFilter(f, `whitelist[${i}]`));
  const bl = blacklist.map((f, i) => compileFilter(f, `blacklist[${i}]`));
  if (wl.length === 0 && bl.length === 0) return () => true;
  return (flow) => (wl.length === 0 || wl.some((p) => p(flow))) && !bl.some((p) => p(flow));
}
