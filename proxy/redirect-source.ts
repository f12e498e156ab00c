/**
 * How a proxy listener learns, for one accepted connection, WHO is talking (source identity) and
 * WHERE the client meant to go (original destination). Two implementations sit behind this one
 * interface:
 *
 * - explicit mode (`ExplicitRedirectSource`, here): a redirect table in config or the
 *   `tendril proxy` flags fixes the destination endpoint, its port and the upstream address; the
 *   source identity comes from the client's source IP through the endpoint registry
 *   (`engine.endpointByIp`), so tests model pods with distinct 127.0.0.x addresses.
 * - transparent mode (`datapath/transparent-source.ts`): the original destination comes from the
 *   BPF tuple map filled by the cgroup connect hook; it returns the same `RedirectTarget`.
 *
 * Contract: `resolve()` is called once per accepted connection, before any byte is parsed, and
 * answers synchronously (every source is a table or map lookup). It
 * returns null when the connection cannot be attributed (unknown original destination); the
 * listener then closes the connection and emits no request flow. It must not throw for ordinary
 * misses; a thrown error is treated like null and logged.
 */
import type net from 'node:net';

/** One side of a redirected connection. */
export interface RedirectPeer {
  /** IP address (IPv4 dotted form for now). */
  ip: string;
  port: number;
  /** `<namespace>/<pod>` when the address belongs to an endpoint, null for `world`. */
  endpoint: string | null;
}

/** What the proxy needs to judge and forward one connection. */
export interface RedirectTarget {
  /** The client: its address and the endpoint owning it (null = world). */
  source: RedirectPeer;
  /**
   * The original destination as the policy sees it: the endpoint the redirect stands for and the
   * port the policy is judged on (e.g. payments/payment-service-0 and 8080).
   */
  destination: RedirectPeer;
  /** Where allowed traffic is sent (explicit mode: `--upstream`; transparent: the original dst). */
  upstream: { host: string; port: number };
  authenticated?: { type: 'SPIRE'; spiffeId: string };
}

export interface RedirectSource {
  resolve(socket: net.Socket): RedirectTarget | null;
}

/** Resolves an IP to `<namespace>/<pod>` (null for non-endpoints); `PolicyEngine.endpointByIp`. */
export type EndpointLookup = (ip: string) => string | null;

export interface ExplicitRedirect {
  /** `<namespace>/<pod>` the redirect stands for. */
  destinationEndpoint: string;
  /** The destination port the policy is judged on. */
  destinationPort: number;
  /** Where allowed requests go. */
  upstream: { host: string; port: number };
  /**
   * Destination IP reported in flows; defaults to the upstream host (the pod address in the
   * standalone example).
   */
  destinationIp?: string;
}

/** Explicit mode: fixed destination, source identity from the client's source IP. */
export class ExplicitRedirectSource implements RedirectSource {
  constructor(
    private readonly redirect: ExplicitRedirect,
    private readonly endpointByIp: EndpointLookup,
  ) {}

  resolve(socket: net.Socket): RedirectTarget | null {
    const ip = normalizeIp(socket.remoteAddress);
    if (ip === null || socket.remotePort === undefined) return null;
    const r = this.redirect;
    return {
      source: { ip, port: socket.remotePort, endpoint: this.endpointByIp(ip) },
      destination: { ip: r.destinationIp ?? r.upstream.host, port: r.destinationPort, endpoint: r.destinationEndpoint },
      upstream: r.upstream,
    };
  }
}

/** Strips the IPv4-mapped IPv6 prefix (`::ffff:127.0.0.5` -> `127.0.0.5`). */
export function normalizeIp(addr: string | undefined): string | null {
  if (!addr) return null;
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}
