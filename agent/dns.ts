/**
 * The agent's DNS proxy component (docs/dns.md "In the agent"): one DnsProxy per
 * `standalone.redirects` entry with `protocol: dns`, one node-wide FQDN cache they learn into,
 * the policy snapshot swapped (`policy.engine`) whenever the learned names change, an expiry
 * sweep, and the `/fqdn/cache` routes `tendril fqdn cache list|clean` call.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FlowSink } from '../observe/index.js';
import { endpointIdentityNumbers } from '../policy/index.js';
import { describeFromWorld, DnsProxy, ExplicitDnsSource, FqdnCache, parseAddress, parseDestination } from '../proxy/index.js';
import { TransparentDnsSource, type TransparentRedirectSource } from '../datapath/index.js';
import type { Component } from './agent.js';
import type { LoadedPolicy } from './policy-source.js';

/** Sweep period for expired names (Cilium's DNS GC runs every 60 s; this is tighter). */
const SWEEP_MS = 1000;

export interface DnsComponent extends Component {
  readonly cache: FqdnCache;
  readonly proxies: readonly DnsProxy[];
}

export function dnsComponent(ctx: {
  config: Config;
  log: Logger;
  policy: LoadedPolicy;
  flows: () => FlowSink;
  /** The datapath's original-destination lookup when it runs: queries go to the resolver the client asked. */
  transparent?: () => Pick<TransparentRedirectSource, 'originalDestination'> | null;
}): DnsComponent {
  const { config, log, policy } = ctx;
  const specs = config.standalone.redirects.map((r, i) => ({ r, i })).filter(({ r }) => r.protocol === 'dns');
  // Validated now, so a bad entry fails the start as a whole (same messages as the HTTP table).
  const parsed = specs.map(({ r, i }) => ({
    listen: parseAddress(r.listen, `standalone.redirects[${i}].listen`, true),
    dst: parseDestination(r.destination, `standalone.redirects[${i}].destination`),
    upstream: parseAddress(r.upstream, `standalone.redirects[${i}].upstream`),
  }));
  const d = config.dnsProxy;
  const cache = new FqdnCache({ minTtlSeconds: d.minTtl, maxIpsPerName: d.endpointMaxIpPerHostname, graceMs: d.idleConnectionGracePeriod });
  const options = { rejectResponseCode: d.dnsRejectResponseCode, responseMaxDelayMs: d.proxyResponseMaxDelay };
  // The live engine keeps the learned names across policy and world changes (policy/live-engine.ts).
  cache.onChange((names) => {
    policy.engine.withLearnedFqdns(names);
  });
  const proxies: DnsProxy[] = [];
  let sweep: NodeJS.Timeout | null = null;
  return {
    name: 'dns',
    cache,
    proxies,
    async start() {
      const describe = describeFromWorld(policy.world, endpointIdentityNumbers(policy.world));
      for (const p of parsed) {
        const dstIp = policy.world.byId.get(p.dst.endpoint)?.ips[0];
        const explicit = new ExplicitDnsSource(
          { destinationEndpoint: p.dst.endpoint, destinationPort: p.dst.port, upstream: p.upstream, ...(dstIp ? { destinationIp: dstIp } : {}) },
          (ip) => policy.engine.endpointByIp(ip),
        );
        const origin = ctx.transparent?.() ?? null;
        const proxy = new DnsProxy({
          listen: p.listen,
          source: origin ? new TransparentDnsSource(origin, explicit, (ip) => policy.engine.endpointByIp(ip)) : explicit,
          engine: () => policy.engine,
          log,
          flows: ctx.flows(),
          describe,
          nodeName: config.nodeName,
          cache,
          options,
        });
        try {
          await proxy.start();
        } catch (err) {
          await Promise.all(proxies.map((x) => x.close()));
          throw err;
        }
        proxies.push(proxy);
        log.info({ listen: `${proxy.address.host}:${proxy.address.port}`, destination: `${p.dst.endpoint}:${p.dst.port}` }, 'DNS proxy listening (UDP and TCP)');
      }
      sweep = setInterval(() => void cache.sweep(), SWEEP_MS);
      sweep.unref();
    },
    async stop() {
      if (sweep) clearInterval(sweep);
      await Promise.all(proxies.map((p) => p.close()));
    },
    status: () => ({
      listeners: proxies.map((p) => ({ protocol: 'dns', address: `${p.address.host}:${p.address.port}`, ...p.stats })),
      fqdnCache: { names: cache.names().size },
    }),
    async route(method: string, path: string) {
      if (path === '/fqdn/cache' && (method === 'GET' || method === 'HEAD')) return { code: 200, body: { entries: cache.list() } };
      if (path === '/fqdn/cache/clean' && method === 'POST') return { code: 200, body: { removed: await cache.clean() } };
      return null;
    },
  };
}
