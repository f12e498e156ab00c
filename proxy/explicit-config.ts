/**
 * Explicit-mode redirect table: turns the strings of `standalone.redirects` (config) or the
 * `tendril proxy` flags into listener definitions, naming the offending field on error.
 */
import { TendrilError, parseHostPort, type HostPort } from '../core/index.js';
import { ExplicitRedirectSource, type EndpointLookup } from './redirect-source.js';
import type { ProxyRedirect } from './index.js';

export interface ExplicitRedirectSpec {
  /** `127.0.0.1:15080` */
  listen: string;
  /** `<namespace>/<pod>:<port>` */
  destination: string;
  /** `<host>:<port>` */
  upstream: string;
  protocol?: 'http' | 'grpc' | 'kafka' | 'dns';
}

/** Parses `<namespace>/<pod>:<port>`. */
export function parseDestination(value: string, field: string): { endpoint: string; port: number } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([^/:\s]+):([0-9]{1,5})$/.exec(value);
  const port = m ? Number(m[4]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new TendrilError('TND_CLI_USAGE', `${field}: must be <namespace>/<pod>:<port>, got "${value}"`, { field });
  }
  return { endpoint: `${m[1]}/${m[3]}`, port };
}

export function parseAddress(value: string, field: string, allowZeroPort = false): HostPort {
  const hp = parseHostPort(value);
  if (!hp || hp.host.length === 0 || (!allowZeroPort && hp.port === 0) || net4or6(hp.host) === false) {
    throw new TendrilError('TND_CLI_USAGE', `${field}: must be <host>:<port>, got "${value}"`, { field });
  }
  return hp;
}

function net4or6(host: string): boolean {
  return /^[A-Za-z0-9.\-:[\]]+$/.test(host);
}

/** Builds one listener definition per redirect (http and kafka; kafka rewrites broker addresses to the listen address). */
export function explicitRedirects(specs: readonly ExplicitRedirectSpec[], endpointByIp: EndpointLookup, field = 'standalone.redirects'): ProxyRedirect[] {
  return specs.map((s, i) => {
    const f = `${field}[${i}]`;
    const protocol = s.protocol ?? 'http';
    if (protocol !== 'http' && protocol !== 'kafka') {
      throw new TendrilError('TND_CONFIG_INVALID', `${f}.protocol: ${protocol} the proxy parses only http and kafka`, { field: `${f}.protocol` });
    }
    const listen = parseAddress(s.listen, `${f}.listen`, true);
    const dst = parseDestination(s.destination, `${f}.destination`);
    const upstream = parseAddress(s.upstream, `${f}.upstream`);
    return {
      listen,
      protocol,
      ...(protocol === 'kafka' ? { advertise: 'listen' as const } : {}),
      source: new ExplicitRedirectSource({ destinationEndpoint: dst.endpoint, destinationPort: dst.port, upstream }, endpointByIp),
    };
  });
}
