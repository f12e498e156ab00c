/**
 * Transparent mode for the DNS proxy (docs/dns.md "Redirection"): the datapath steered a pod's
 * port-53 traffic to the proxy and recorded {client ip, client port} -> original destination in
 * tendril_origdst (sockops for TCP; sendmsg4/connect4 for a UDP socket with a port, under
 * {0.0.0.0, port} when it is bound to the wildcard address). The query then
 * goes to the resolver the client asked for (after service LB). When nothing is recorded (the
 * client dialled the proxy itself, or an unbound UDP socket), the explicit redirect decides.
 */
import type { DnsRedirectSource, DnsTarget } from '../proxy/index.js';
import type { EndpointLookup, TransparentRedirectSource } from './transparent-source.js';

export class TransparentDnsSource implements DnsRedirectSource {
  constructor(
    private readonly origin: Pick<TransparentRedirectSource, 'originalDestination'>,
    private readonly fallback: DnsRedirectSource,
    private readonly endpointByIp: EndpointLookup,
  ) {}

  resolve(client: { ip: string; port: number }, local: { ip: string; port: number }, transport: 'UDP' | 'TCP'): DnsTarget | null {
    const od = this.origin.originalDestination(client.ip, client.port) ?? (transport === 'UDP' ? this.origin.originalDestination('0.0.0.0', client.port) : null);
    if (!od) return this.fallback.resolve(client, local, transport);
    return {
      source: { ip: client.ip, port: client.port, endpoint: this.endpointByIp(client.ip) },
      destination: { ip: od.ip, port: od.port, endpoint: this.endpointByIp(od.ip) },
      upstream: { host: od.ip, port: od.port },
    };
  }
}
