/**
 * Who asked and which resolver they meant, per DNS query. Explicit mode (`tendril proxy
 * --protocol dns`, a `standalone.redirects` entry with `protocol: dns`): the destination is the
 * configured DNS server endpoint and port, the source endpoint comes from the client's IP.
 * Transparent mode: the datapath steers a pod's port-53 traffic to the proxy; the original
 * resolver then comes from the datapath (docs/dns.md "Redirection").
 */
import type { EndpointLookup, RedirectPeer } from '../redirect-source.js';

export interface DnsTarget {
  source: RedirectPeer;
  /** The DNS server as policy sees it (endpoint and port judged). */
  destination: RedirectPeer;
  /** Where an allowed query is sent. */
  upstream: { host: string; port: number };
}

export interface DnsRedirectSource {
  /** Null when the query cannot be attributed: it is answered with the reject code, never forwarded. */
  resolve(client: { ip: string; port: number }, local: { ip: string; port: number }, transport: 'UDP' | 'TCP'): DnsTarget | null;
}

export interface ExplicitDnsRedirect {
  destinationEndpoint: string;
  destinationPort: number;
  upstream: { host: string; port: number };
  /** Destination IP in flows; defaults to the upstream host. */
  destinationIp?: string;
}

export class ExplicitDnsSource implements DnsRedirectSource {
  constructor(
    private readonly redirect: ExplicitDnsRedirect,
    private readonly endpointByIp: EndpointLookup,
  ) {}

  resolve(client: { ip: string; port: number }): DnsTarget {
    const r = this.redirect;
    return {
      source: { ip: client.ip, port: client.port, endpoint: this.endpointByIp(client.ip) },
      destination: { ip: r.destinationIp ?? r.upstream.host, port: r.destinationPort, endpoint: r.destinationEndpoint },
      upstream: r.upstream,
    };
  }
}
