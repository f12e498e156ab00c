/**
 * SPIFFE endpoint socket addresses (docs/identity.md "Pointing the agent at SPIRE"):
 * `unix:///absolute/path` or `tcp://<ip>:<port>`, checked as the Workload Endpoint spec and
 * go-spiffe do; SPIFFE_ENDPOINT_SOCKET overrides the configured Workload API socket.
 */
import { isIP } from 'node:net';

export class EndpointAddressError extends Error {
  override name = 'EndpointAddressError';
}

/** Validates an endpoint address and returns the grpc-js target for it. */
export function grpcTarget(addr: string): string {
  let u: URL;
  try {
    u = new URL(addr);
  } catch {
    throw new EndpointAddressError(`${JSON.stringify(addr)} is not a URI (expected unix:///path or tcp://ip:port)`);
  }
  if (u.username || u.password) throw new EndpointAddressError(`${addr}: userinfo is not allowed`);
  if (u.search || u.hash) throw new EndpointAddressError(`${addr}: query and fragment are not allowed`);
  if (u.protocol === 'unix:') {
    if (u.host !== '') throw new EndpointAddressError(`${addr}: a unix address has no authority (use unix:///absolute/path)`);
    if (!u.pathname.startsWith('/') || u.pathname === '/') throw new EndpointAddressError(`${addr}: the unix socket path must be absolute`);
    if (!addr.startsWith('unix:/')) throw new EndpointAddressError(`${addr}: opaque URIs are not allowed`);
    return `unix://${decodeURIComponent(u.pathname)}`;
  }
  if (u.protocol === 'tcp:') {
    if (u.pathname !== '' && u.pathname !== '/') throw new EndpointAddressError(`${addr}: a tcp address has no path`);
    if (addr.endsWith('/')) throw new EndpointAddressError(`${addr}: a tcp address has no path`);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) === 0) throw new EndpointAddressError(`${addr}: the host must be an IP address`);
    if (u.port === '') throw new EndpointAddressError(`${addr}: the port is missing`);
    return `${u.hostname}:${u.port}`;
  }
  throw new EndpointAddressError(`${addr}: scheme ${u.protocol.replace(/:$/, '')} is not supported (unix or tcp)`);
}

/** The Workload API address in effect: SPIFFE_ENDPOINT_SOCKET when set, else the configured one. */
export function workloadApiAddress(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['SPIFFE_ENDPOINT_SOCKET'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : configured;
}
