/** The node-to-node mTLS tunnel (HTTP/2 CONNECT in TLS 1.3, docs/identity.md "The tunnel"). */
export { TunnelServer, type TunnelServerDeps, type TunnelEndpoint, type StreamAcceptor, type TunnelServerStats } from './server.js';
export { TunnelClient, TunnelError, type OpenStream } from './client.js';
export { sniFor, TUNNEL_SUFFIX } from './tls.js';
export type { TunnelEvent } from './events.js';
export { TunnelOutbound, type TunnelOutboundDeps, type TunnelOutboundStats, type OutboundEndpoint } from './outbound.js';
