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
 */
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FlowSink } from '../observe/index.js';
import type { PolicyEngine } from '../policy/api.js';
import { endpointIdentityNumbers, type PolicySet, type World } from '../policy/index.js';
import { TendrilError } from '../core/index.js';
import { PROTO } from '../native/index.js';
import { Datapath } from './datapath.js';
import type { RedirectEntry } from './policy-maps.js';
import { datapathUnsupportedReason } from './support.js';
import { EgressSync } from './egress.js';
import type { DatapathEndpoint, PortSpec } from './resolve.js';

export { FIRST_ENDPOINT_IDENTITY } from '../policy/index.js';

export interface DatapathComponentArgs {
  config: Config;
  log: Logger;
  policy: { engine: PolicyEngine; world: World };
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
  const rules = (engine as { policies?: PolicySet } | undefined)?.policies?.rules ?? [];
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
        for (const { identity, ips } of ids.values()) for (const ip of ips) dp.policy.setIdentity(ip, identity);
        const tcp = standaloneRedirects(args.config, ids).filter((_, i) => args.config.standalone.redirects[i]!.protocol !== 'dns');
        const dns = dnsRedirects(args.config, args.policy.engine, ids);
        dp.policy.setRedirects([...tcp, ...dns]);
        if (dns.length > 0) log.info({ redirects: dns.length }, 'port-53 traffic of endpoints with rules.dns goes to the DNS proxy');
        const endpoints: DatapathEndpoint[] = [...ids].flatMap(([name, { identity, ips }], n) => ips.filter((ip) => !ip.includes(':')).map((ip) => ({ name, ip, identity, epId: n + 1 })));
        // The node's own addresses (where the DNS proxy listens) stay reachable on port 53.
        const alwaysAllow = dns.map((d) => ({ identity: 1, port: d.proxyPort, proto: d.proto }));
        for (const d of dns) if (!dp.policy.identityOf(d.proxyIp)) dp.policy.setIdentity(d.proxyIp, 1);
        egress = new EgressSync(dp.policy, endpoints, egressPorts(args.config, args.policy.engine), { alwaysAllow });
        egress.apply(args.policy.engine, new Map());
        for (const p of args.config.datapath.podInterfaces) dp.attachPod(p.netns, p.interface);
        if (args.config.datapath.podInterfaces.length > 0) log.info({ interfaces: args.config.datapath.podInterfaces.length }, 'tc enforcement attached to pod interfaces');
      } catch (err) {
        dp.close();
        dp = null;
        throw err;
      }
    },
    applyLearned(learned) {
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
