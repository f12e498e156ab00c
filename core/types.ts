/** Shared primitive types used across areas. Keep this tiny. */

/** An IPv4 address in dotted form, e.g. `127.0.0.10`. */
export type IPv4 = string;

/** Transport protocols that policy understands. */
export type L4Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';

/** Traffic direction relative to the subject endpoint. */
export type Direction = 'ingress' | 'egress';

/** `host:port` pair parsed once. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port` (IPv4 or name). Returns null when malformed. */
export function parseHostPort(value: string): HostPort | null {
  const idx = value.lastIndexOf(':');
  if (idx <= 0) return null;
  const host = value.slice(0, idx);
  const port = Number(value.slice(idx + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host, port };
}
