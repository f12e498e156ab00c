/** Parses `toPorts[].ports[]` (CNP) and NetworkPolicy `ports[]` (policy-semantics §6, §1.3). */
import type { DocContext, FieldPath } from './doc-context.js';
import type { PortEntry, PortProto } from './model.js';

const PROTOS: Record<string, PortProto> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP', ANY: 'ANY' };
/** Valid in Cilium's schema but never matched by a TCP/UDP/SCTP case (ICMP needs `icmps`). */
const OTHER_PROTOS = new Set(['ICMP', 'ICMPV6', 'VRRP', 'IGMP']);
const SERVICE_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

export function parseProtocol(ctx: DocContext, v: unknown, path: FieldPath, dflt: PortProto): PortProto | 'OTHER' | null {
  if (v === undefined || v === null) return dflt;
  const s = ctx.str(v, path);
  if (s === null) return null;
  const up = s.toUpperCase();
  if (PROTOS[up]) return PROTOS[up];
  if (OTHER_PROTOS.has(up)) return 'OTHER';
  ctx.error(path, `must be one of TCP, UDP, SCTP, ANY, got ${JSON.stringify(s)}`);
  return null;
}

/** A port value: number or decimal string 0..65535, or an IANA service name (named port). */
export function parsePortValue(ctx: DocContext, v: unknown, path: FieldPath): { port: number | null; name?: string } | null {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 65535) return { port: v };
    ctx.error(path, `must be 0-65535, got ${JSON.stringify(v)}`);
    return null;
  }
  if (typeof v !== 'string') {
    ctx.error(path, `must be a port number or name, got ${JSON.stringify(v)}`);
    return null;
  }
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n <= 65535) return { port: n };
    ctx.error(path, `must be 0-65535, got ${JSON.stringify(v)}`);
    return null;
  }
  const name = v.toLowerCase();
  if (!SERVICE_NAME.test(name)) {
    ctx.error(path, `must be 0-65535 or an IANA service name, got ${JSON.stringify(v)}`);
    return null;
  }
  return { port: null, name };
}

export function parseEndPort(ctx: DocContext, v: unknown, path: FieldPath): number | null {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    ctx.error(path, `must be 0-65535, got ${JSON.stringify(v)}`);
    return null;
  }
  return n;
}

/** One CNP `ports[]` element: `{port, endPort, protocol}`; protocol defaults to ANY. */
export function parseCiliumPort(ctx: DocContext, v: unknown, path: FieldPath): PortEntry | null {
  const m = ctx.map(v, path, ['port', 'endPort', 'protocol']);
  if (!m) return null;
  const proto = parseProtocol(ctx, m.protocol, [...path, 'protocol'], 'ANY');
  const pv = m.port === undefined || m.port === null ? { port: 0 } : parsePortValue(ctx, m.port, [...path, 'port']);
  const end = parseEndPort(ctx, m.endPort, [...path, 'endPort']);
  if (proto === null || pv === null || end === null) return null;
  return { proto: proto === 'OTHER' ? 'NONE' : proto, port: pv.port, name: pv.name, endPort: end };
}

export function portCovers(e: PortEntry, proto: string, port: number): boolean {
  if (e.port === null || e.proto === 'NONE') return false;
  if (e.proto !== 'ANY' && e.proto !== proto) return false;
  if (e.proto === 'ANY' && proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP') return false;
  if (e.port === 0) return true;
  return port >= e.port && port <= Math.max(e.port, e.endPort);
}
