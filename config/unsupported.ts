/**
 * Configuration that asks for something Tendril cannot do is refused at start, never accepted
 * and shown as on (docs/configuration.md, Refused keys). One row per key: the key's path, the
 * condition under which the value asks for something missing, and the message. The engineer who
 * builds a feature deletes its row (and the row's subtest in test/config/unsupported.test.ts).
 */
import { TendrilError } from '../core/index.js';
import type { Config } from './schema.js';

/** L7 protocols the proxy parses; other values of a redirect's `protocol` are refused. */
export const PROXY_PROTOCOLS: readonly string[] = ['http', 'kafka', 'dns'];

/** L7 protocols a redirect may name that the proxy does not parse (refused). */
export const MISSING_PROTOCOLS: readonly string[] = ['grpc', 'kafka', 'dns'].filter((p) => !PROXY_PROTOCOLS.includes(p));

export interface UnsupportedRow {
  /** Config key path as a user writes it (`--set` form). */
  key: string;
  /** The offending key path (with index) when `config` asks for what is missing, else null. */
  check(config: Config): string | null;
  /** Why it is refused and what to do instead. */
  message: string;
}

export const UNSUPPORTED: readonly UnsupportedRow[] = [
  {
    key: 'hubble.relay.enabled',
    check: (c) => (c.hubble.relay.enabled ? 'hubble.relay.enabled' : null),
    message: 'hubble.relay.enabled: true is not available: there is no Hubble Relay; the agent serves the Observer API itself at hubble.listenAddress',
  },
  {
    key: 'hubble.ui.enabled',
    check: (c) => (c.hubble.ui.enabled ? 'hubble.ui.enabled' : null),
    message: 'hubble.ui.enabled: true is not available: there is no Hubble UI; use `tendril observe`',
  },
  {
    key: 'kubeProxyReplacement',
    check: (c) => (c.kubeProxyReplacement && (c.datapath.enabled === false || c.datapath.enabled === 'false') ? 'kubeProxyReplacement' : null),
    message: 'kubeProxyReplacement: true needs the eBPF datapath, and datapath.enabled is false; enable the datapath or set kubeProxyReplacement: false',
  },
  {
    key: 'standalone.redirects[].protocol',
    check: (c) => {
      const i = c.standalone.redirects.findIndex((r) => !PROXY_PROTOCOLS.includes(r.protocol));
      return i < 0 ? null : `standalone.redirects[${i}].protocol`;
    },
    message: `the proxy parses only ${PROXY_PROTOCOLS.join(', ')}; ${MISSING_PROTOCOLS.join(' and ')} redirects are not available`,
  },
];

/** Every row the configuration trips, as `key: message` lines (empty when all is available). */
export function unsupportedIn(config: Config): string[] {
  const out: string[] = [];
  for (const row of UNSUPPORTED) {
    const at = row.check(config);
    if (at !== null) out.push(`${at}: ${row.message}`);
  }
  return out;
}

/** Throws TND_CONFIG_UNSUPPORTED naming every key that asks for what is not available. */
export function refuseUnsupported(config: Config): void {
  const problems = unsupportedIn(config);
  if (problems.length === 0) return;
  throw new TendrilError('TND_CONFIG_UNSUPPORTED', `configuration asks for what is not available:\n  ${problems.join('\n  ')}`, {
    fields: problems.map((p) => p.slice(0, p.indexOf(':'))),
  });
}
