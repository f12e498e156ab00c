/**
 * The datapath as an agent Component (agent/agent.ts): decides from config whether to run,
 * loads and attaches at start, syncs identities from the world and the standalone redirect table
 * into the BPF maps, emits drop events as flows, and closes everything at stop.
 *
 * datapath.enabled: false -> not started; 'auto' -> started when supported, else a warning and the
 * proxy stays in explicit mode; true -> unsupported is a start failure (TND_DATAPATH_UNSUPPORTED).
 * kubeProxyReplacement: true implies datapath.enabled 'auto' at least.
 *
 * Standalone redirects: each `standalone.redirects[i]` (listen, destination ns/pod:port) becomes a
 * connect4 redirect {any source -> that pod's identity, port} -> the listener, so any process in
 * the agent cgroup that dials the pod address lands on the proxy listener transparently.
 * With identity on, (destination, port) pairs that require authentication are redirected to the
 * outbound tunnel listener (datapath/tunnel-redirects.ts, docs/identity.md).
 */
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FlowSink } from '../observe/index.js';
import type { PolicyEngine } from '../policy/api.js';
import { Engine, SwappableEngine, endpointIdentityNumbers, type PolicySet, type World } from '../policy/index.js';
import { TendrilError } from '../core/index.js';
import { PROTO } from '../native/index.js';
import { Datapath } from './datapath.js';
import type { RedirectEntry } from './policy-maps.js';
import { datapathUnsupportedReason } from './support.js';
import { serviceSpecsFromWorld } from './world-services.js';
import { authPorts, tunnelRedirects, unredirectableAuthRules } from './tunnel-redirects.js';
import { EgressSync } from './egress.js';
import type { DatapathEndpoint, PortSpec } from './resolve.js';

export { FIRST_ENDPOINT_IDENTITY } from '../policy/index.js';

export interface DatapathComponentArgs {
  config: Config;
  log: Logger;
  policy: { engine: PolicyEngine; world: World; onChange?(fn: (world: World) => void): void };
  flows: FlowSink;
}

export interface DatapathComponent {
  readonly name: 'datapath';
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): Record<string, unknown>;
  /** The running datapath, or null when disabled/unsupported. */
  readonly datapath: Datapath | null;
  /**
   * Egress entries and learned-address identities from the current engine and the names the DNS
   * proxy learned (docs/dns.md "Datapath"); call after every FQDN cache change. No-op when the
   * datapath is not running.
   */
  applyLearned(learned: ReadonlyMap<string, readonly string[]>): void;
}

export function wantsDatapath(config: Config): 'off' | 'auto' | 'required' {
  const e = config.datapath.enabled;
  if (e === true || e === 'true') return 'required';
  if (e === false || e === 'false') return config.kubeProxyReplacement ? 'auto' : 'off';
  return 'auto';
}

/** Numeric identity per world endpoint: stable (sorted by `namespace/pod`), shared with flows. */
export function endpointIdentities(world: World): Map<string, { identity: number; ips: string[] }> {
  return endpointIdentityNumbers(world);
}

export function standaloneRedirects(config: Config, ids: Map<string, { identity: number }>): RedirectEntry[] {
  return config.standalone.redirects.map((r, i) => {
    const m = /^(.+):(\d+)$/.exec(r.destination);
    const lm = /^(.+):(\d+)$/.exec(r.listen);
    const dst = m ? ids.get(m[1]!) : undefined;
    if (!m || !lm || !dst) {
      throw new TendrilError('TND_CONFIG_INVALID', `standalone.redirects[${i}]: destination "${r.destination}" is not an endpoint of the world`, {
        field: `standalone.redirects[${i}].destination`,
      });
    }
    return { srcIdentity: 0, dstIdentity: dst.identity, port: Number(m[2]), proto: PROTO.TCP, proxyIp: lm[1]!, proxyPort: Number(lm[2]), policy: undefined };
  });
}

/**
 * With identity on, connections that require mutual authentication are redirected to the
 * outbound tunnel listener (datapath/tunnel-redirects.ts); a standalone redirect for the same
 * (destination, port) keeps its own listener.
 */
function withTunnelRedirects(args: DatapathComponentArgs, world: World, ids: Map<string, { identity: number }>, standalone: RedirectEntry[]): RedirectEntry[] {
  const idc = args.config.identity;
  if (!idc.enabled) return standalone;
  const m = /^(.+):(\d+)$/.exec(idc.tunnel.outbound);
  if (!m) throw new TendrilError('TND_CONFIG_INVALID', `identity.tunnel.outbound: must be <ip>:<port>, got "${idc.tunnel.outbound}"`, { field: 'identity.tunnel.outbound' });
  const engine = args.policy.engine;
  // The live engine (policy/live-engine.ts) wraps the current snapshot: its rules are the current ones.
  const snapshot = engine instanceof SwappableEngine ? engine.current : engine;
  const rules = snapshot instanceof Engine ? snapshot.policies.rules : [];
  if (!(snapshot instanceof Engine)) args.log.warn({}, 'policy engine exposes no rules: no connection is redirected into the mTLS tunnel');
  const wide = unredirectableAuthRules(rules);
  if (wide.length > 0) {
    args.log.warn({ rules: wide }, 'rules require authentication on ports the datapath cannot redirect (any, named or wide ranges): that traffic is not tunnelled; give them explicit ports');
  }
  const taken = new Set(standalone.map((r) => `${r.srcIdentity}/${r.dstIdentity}/${r.port}/${r.proto}`));
  const tunnel = tunnelRedirects({
    engine,
    world,
    nodeName: args.config.nodeName,
    ids,
    ports: authPorts(rules),
    listen: { ip: m[1]!, port: Number(m[2]) },
  }).filter((r) => !taken.has(`${r.srcIdentity}/${r.dstIdentity}/${r.port}/${r.proto}`));
  return [...standalone, ...tunnel];
}

/** The rules of the engine's current snapshot (the live engine wraps one; see policy/live-engine.ts). */
function currentRules(engine: PolicyEngine): PolicySet['rules'] {
  const snapshot = engine instanceof SwappableEngine ? engine.current : engine;
  return snapshot instanceof Engine ? snapshot.policies.rules : [];
}

/**
 * Port-53 redirects (UDP and TCP) to the agent's DNS proxy: for each `protocol: dns` entry of
 * `standalone.redirects` whose destination (the resolver endpoint and port) some endpoint's
 * egress policy reaches with `rules.dns`. Processes in the agent's cgroup carry no per-pod
 * identity in standalone mode, so the entry matches any source (0); the proxy judges each query
 * by the client's address.
 */
export function dnsRedirects(config: Config, engine: PolicyEngine, ids: Map<string, { identity: number; ips: string[] }>): RedirectEntry[] {
  const out: RedirectEntry[] = [];
  config.standalone.redirects.forEach((r, i) => {
    if (r.protocol !== 'dns') return;
    const m = /^(.+):(\d+)$/.exec(r.destination);
    const lm = /^(.+):(\d+)$/.exec(r.listen);
    const dst = m ? ids.get(m[1]!) : undefined;
    if (!m || !lm || !dst) {
      throw new TendrilError('TND_CONFIG_INVALID', `standalone.redirects[${i}]: destination "${r.destination}" is not an endpoint of the world`, {
        field: `standalone.redirects[${i}].destination`,
      });
    }
    const port = Number(m[2]);
    for (const protocol of ['UDP', 'TCP'] as const) {
      const withDns = [...ids.keys()].find((src) => {
        if (src === m[1]) return false;
        const v = engine.connection({ from: { endpoint: src }, to: { endpoint: m[1]! }, port, protocol }).verdict;
        return v.l7 === 'dns' && v.egress?.enforced === true;
      });
      if (!withDns) continue;
      out.push({ srcIdentity: 0, dstIdentity: dst.identity, port, proto: PROTO[protocol], proxyIp: lm[1]!, proxyPort: Number(lm[2]), policy: undefined });
    }
  });
  return out;
}

/**
 * Ports the egress entries are resolved for: 53 UDP/TCP, every redirect's destination port, and
 * every single TCP/UDP port (ranges up to 64 ports) the egress rules name. Other ports of an
 * enforced endpoint have no entry and drop (the safe side).
 */
export function egressPorts(config: Config, engine?: PolicyEngine): PortSpec[] {
  const ports = new Map<string, PortSpec>();
  const add = (p: PortSpec): void => void ports.set(`${p.port}/${p.protocol}`, p);
  add({ port: 53, protocol: 'UDP' });
  add({ port: 53, protocol: 'TCP' });
  const rules = engine ? currentRules(engine) : [];
  for (const r of rules) {
    for (const e of [...r.egress.allow, ...r.egress.deny]) {
      for (const pr of e.ports ?? []) {
        for (const p of pr.ports) {
          if (!p.port || p.endPort - p.port > 64) continue;
          const protos = p.proto === 'TCP' || p.proto === 'UDP' ? [p.proto] : p.proto === 'ANY' ? (['TCP', 'UDP'] as const) : [];
          for (const protocol of protos) for (let n = p.port; n <= Math.max(p.port, p.endPort); n++) add({ port: n, protocol });
        }
      }
    }
  }
  for (const r of config.standalone.redirects) {
    const m = /:(\d+)$/.exec(r.destination);
    if (!m) continue;
    add({ port: Number(m[1]), protocol: 'TCP' });
    if (r.protocol === 'dns') add({ port: Number(m[1]), protocol: 'UDP' });
  }
  return [...ports.values()];
}

export function datapathComponent(args: DatapathComponentArgs): DatapathComponent {
  const log = args.log.child({ component: 'datapath' });
  let dp: Datapath | null = null;
  let reason: string | null = null;
  let egress: EgressSync | null = null;
  let lastLearned: ReadonlyMap<string, readonly string[]> = new Map();
  let learnedCount = 0;
  const mode = wantsDatapath(args.config);
  return {
    name: 'datapath',
    get datapath() {
      return dp;
    },
    async start() {
      if (mode === 'off') {
        reason = 'disabled by config (datapath.enabled: false)';
        return;
      }
      reason = datapathUnsupportedReason();
      if (reason) {
        if (mode === 'required') throw new TendrilError('TND_DATAPATH_UNSUPPORTED', `datapath.enabled is true but ${reason}`);
        log.warn({ reason }, 'eBPF datapath not available; the proxy runs in explicit mode');
        return;
      }
      dp = Datapath.start({
        log: args.log,
        cgroupDir: args.config.datapath.cgroupRoot,
        pinName: basename(args.config.datapath.pinRoot),
        endpointByIp: (ip) => args.policy.engine.endpointByIp(ip),
        nodeName: args.config.nodeName,
      });
      try {
        dp.onDrop((flow) => args.flows.emit(flow));
        const ids = endpointIdentities(args.policy.world);
        let known = new Set<string>();
        for (const { identity, ips } of ids.values()) for (const ip of ips) {
          dp.policy.setIdentity(ip, identity);
          known.add(ip);
        }
        // HTTP/Kafka redirects, port-53 redirects of endpoints with rules.dns, and (identity on) the
        // connections that require authentication into the tunnel.
        const redirectsFor = (table: Map<string, { identity: number; ips: string[] }>, world: World): RedirectEntry[] => {
          const tcp = standaloneRedirects(args.config, table).filter((_, i) => args.config.standalone.redirects[i]!.protocol !== 'dns');
          return withTunnelRedirects(args, world, table, [...tcp, ...dnsRedirects(args.config, args.policy.engine, table)]);
        };
        dp.policy.setRedirects(redirectsFor(ids, args.policy.world));
        const dnsEntries = dnsRedirects(args.config, args.policy.engine, ids);
        if (dnsEntries.length > 0) log.info({ redirects: dnsEntries.length }, 'port-53 traffic of endpoints with rules.dns goes to the DNS proxy');
        const endpoints: DatapathEndpoint[] = [...ids].flatMap(([name, { identity, ips }], n) => ips.filter((ip) => !ip.includes(':')).map((ip) => ({ name, ip, identity, epId: n + 1 })));
        // The node's own addresses (where the DNS proxy listens) stay reachable on port 53.
        const alwaysAllow = dnsEntries.map((d) => ({ identity: 1, port: d.proxyPort, proto: d.proto }));
        for (const d of dnsEntries) if (!dp.policy.identityOf(d.proxyIp)) dp.policy.setIdentity(d.proxyIp, 1);
        egress = new EgressSync(dp.policy, endpoints, egressPorts(args.config, args.policy.engine), { alwaysAllow });
        egress.apply(args.policy.engine, lastLearned);
        for (const p of args.config.datapath.podInterfaces) dp.attachPod(p.netns, p.interface);
        if (args.config.datapath.podInterfaces.length > 0) log.info({ interfaces: args.config.datapath.podInterfaces.length }, 'tc enforcement attached to pod interfaces');
        // kubeProxyReplacement: ClusterIP services of the world drive the socket-LB maps.
        if (args.config.kubeProxyReplacement) dp.services.sync(serviceSpecsFromWorld(args.policy.world));
        // Identities (and the redirects naming them) follow a changed world; a redirect whose
        // destination left the world keeps the last table and is logged (the change was applied).
        args.policy.onChange?.((world) => {
          if (!dp) return;
          const next = endpointIdentities(world);
          const now = new Set<string>();
          for (const { identity, ips } of next.values()) for (const ip of ips) {
            if (dp.policy.identityOf(ip) !== identity) dp.policy.setIdentity(ip, identity);
            now.add(ip);
          }
          for (const ip of known) if (!now.has(ip)) dp.policy.removeIdentity(ip);
          known = now;
          if (args.config.kubeProxyReplacement) dp.services.sync(serviceSpecsFromWorld(world));
          try {
            dp.policy.setRedirects(redirectsFor(next, world));
            // Egress entries follow the new policy set (endpoints are those known at start).
            egress?.apply(args.policy.engine, lastLearned);
          } catch (err) {
            log.error({ err }, 'redirect table not updated after a world change');
          }
        });
      } catch (err) {
        dp.close();
        dp = null;
        throw err;
      }
    },
    applyLearned(learned) {
      lastLearned = learned;
      if (!dp || !egress) return;
      egress.apply(args.policy.engine, learned);
      learnedCount = [...new Set([...learned.values()].flat())].filter((ip) => !ip.includes(':') && (dp!.policy.identityOf(ip) ?? 0) > 0).length;
    },
    async stop() {
      dp?.close();
      dp = null;
      egress = null;
    },
    status() {
      if (!dp) return { running: false, reason };
      const s = dp.stats();
      return {
        running: true,
        cgroup: dp.cgroupDir,
        pinRoot: dp.pinRoot,
        services: dp.services.size,
        learnedAddresses: learnedCount,
        stats: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Number(v)])),
      };
    },
  };
}
