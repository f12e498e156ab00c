/**
 * Transparent mode for the proxy (proxy/redirect-source.ts): connect4 sent the client's socket to
 * the proxy listener and sockops recorded {client ip, client port} -> original destination in
 * tendril_origdst. The proxy's accepted socket's PEER is exactly that client tuple, so one map
 * lookup recovers where the client meant to go (after service LB) and which identity sent it.
 * Works whether or not the proxy's own socket is in an attached cgroup (unlike SO_ORIGINAL_DST).
 */
import type net from 'node:net';
import type { BpfObject, OrigDst } from '../native/index.js';
import { normalizeIp, type RedirectSource, type RedirectTarget } from '../proxy/index.js';

/** `PolicyEngine.endpointByIp`: an address to `namespace/pod`, or null. */
export type EndpointLookup = (ip: string) => string | null;

export class TransparentRedirectSource implements RedirectSource {
  constructor(
    private readonly obj: BpfObject,
    private readonly endpointByIp: EndpointLookup,
  ) {}

  /** The raw map entry for a client tuple (null when connect4 did not redirect it). */
  originalDestination(clientIp: string, clientPort: number): OrigDst | null {
    if (this.obj.isClosed) return null;
    return this.obj.map('tendril_origdst').get({ ip: clientIp, port: clientPort });
  }

  resolve(socket: net.Socket): RedirectTarget | null {
    const ip = normalizeIp(socket.remoteAddress);
    const port = socket.remotePort;
    if (ip === null || port === undefined) return null;
    const od = this.originalDestination(ip, port);
    if (!od) return null;
    return {
      source: { ip, port, endpoint: this.endpointByIp(ip) },
      destination: { ip: od.ip, port: od.port, endpoint: this.endpointByIp(od.ip) },
      upstream: { host: od.ip, port: od.port },
    };
  }
}
