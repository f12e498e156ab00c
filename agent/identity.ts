/**
 * Wires workload identity into the agent when `identity.enabled` (docs/identity.md): an SVID
 * store fed by the SPIFFE Workload API (the node's own SVID and the bundles) and SPIRE's
 * Delegated Identity API (one subscription per local pod, selectors k8s:ns + k8s:sa), the
 * tunnel listener (inbound, handing streams to the HTTP listener of the destination) and, for
 * every standalone redirect whose destination pod runs on another node, an outbound tunnel
 * listener in place of the HTTP listener; with the datapath running, one more outbound listener
 * (`identity.tunnel.outbound`) for the connections the datapath redirects because their policy
 * requires authentication.
 */
import type { Logger } from 'pino';
import client from 'prom-client';
import type { Config } from '../config/index.js';
import type { World } from '../policy/index.js';
import type { ConnectionQuery, Verdict } from '../policy/api.js';
import {
  DelegatedIdentityClient,
  SvidStore,
  WorkloadApiClient,
  grpcTarget,
  k8sSelectors,
  workloadApiAddress,
} from '../identity/index.js';
import { TendrilError } from '../core/index.js';
import { TunnelClient, TunnelOutbound, TunnelServer, type StreamAcceptor, type TunnelEvent } from '../proxy/hbone/index.js';
import { parseAddress, parseDestination, type DescribeEndpoint, type ProxyRedirect, type RedirectSource, type RedirectTarget } from '../proxy/index.js';
import { newFlow, type FlowSink } from '../observe/index.js';
import type { Component } from './agent.js';

export interface IdentityWiring {
  /** Redirects served by the HTTP proxy (destination on this node). */
  localRedirects: ProxyRedirect[];
  components: Component[];
  /** Set by the proxy component once its listeners run (index = localRedirects index). */
  setAcceptors(list: StreamAcceptor[]): void;
}

function isLocal(world: World, endpoint: string, nodeName: string): boolean {
  const ep = world.byId.get(endpoint);
  return !ep || ep.node === undefined || ep.node === nodeName;
}

let metricStore: SvidStore | null = null;

const metrics = {
  svidExpiry: new client.Gauge({
    name: 'tendril_identity_svid_expiry_seconds',
    help: 'Seconds until the held SVID expires',
    labelNames: ['spiffe_id'],
    registers: [],
    collect() {
      this.reset();
      for (const s of metricStore?.list() ?? []) this.set({ spiffe_id: s.spiffeId }, Math.round((s.notAfter.getTime() - Date.now()) / 1000));
    },
  }),
  svidAge: new client.Gauge({
    name: 'tendril_identity_svid_age_seconds',
    help: 'Seconds since the held SVID was issued (its notBefore)',
    labelNames: ['spiffe_id'],
    registers: [],
    collect() {
      this.reset();
      for (const s of metricStore?.list() ?? []) this.set({ spiffe_id: s.spiffeId }, Math.round((Date.now() - s.notBefore.getTime()) / 1000));
    },
  }),
  rotations: new client.Counter({ name: 'tendril_identity_svid_rotations_total', help: 'SVID rotations received', registers: [] }),
  handshakes: new client.Counter({ name: 'tendril_tunnel_handshakes_total', help: 'mTLS tunnel handshakes by side and result', labelNames: ['side', 'result'], registers: [] }),
  failures: new client.Counter({ name: 'tendril_tunnel_handshake_failures_total', help: 'mTLS tunnel handshake failures by reason code', labelNames: ['side', 'code'], registers: [] }),
};

export function identityWiring(args: {
  config: Config;
  log: Logger;
  world: World;
  redirects: ProxyRedirect[];
  flows: () => FlowSink;
  describe: DescribeEndpoint;
  /** The connection's L3/L4 verdict (PolicyEngine.connection(...).verdict). */
  judge: (q: ConnectionQuery) => Verdict;
  /** The datapath's transparent redirect source once it runs (null: no datapath). */
  transparent?: () => RedirectSource | null;
}): IdentityWiring {
  const { config, world } = args;
  const log = args.log.child({ component: 'identity' });
  const idc = config.identity;
  // The same list, in the same order, as `args.redirects` (DNS redirects are served by the DNS component).
  const specs = config.standalone.redirects.filter((r) => r.protocol !== 'dns');
  const local: ProxyRedirect[] = [];
  const localDst: { endpoint: string; port: number }[] = [];
  const remote: { redirect: ProxyRedirect; endpoint: string }[] = [];
  args.redirects.forEach((r, i) => {
    const dst = parseDestination(specs[i]!.destination, `standalone.redirects[${i}].destination`);
    if (isLocal(world, dst.endpoint, config.nodeName)) {
      local.push(r);
      localDst.push(dst);
    } else remote.push({ redirect: r, endpoint: dst.endpoint });
  });
  let acceptors: StreamAcceptor[] = [];
  for (const [key, addr] of [
    [process.env['SPIFFE_ENDPOINT_SOCKET'] ? 'SPIFFE_ENDPOINT_SOCKET' : 'identity.workloadApiSocket', workloadApiAddress(idc.workloadApiSocket)],
    ['identity.delegatedIdentitySocket', idc.delegatedIdentitySocket],
  ] as const) {
    try {
      grpcTarget(addr);
    } catch (err) {
      throw new TendrilError('TND_CONFIG_INVALID', `${key}: ${(err as Error).message}`, { field: key });
    }
  }
  const store = new SvidStore();
  metricStore = store;
  const wl = new WorkloadApiClient(workloadApiAddress(idc.workloadApiSocket), store);
  const di = new DelegatedIdentityClient(idc.delegatedIdentitySocket, store);
  for (const ep of world.endpoints) {
    if (ep.node === undefined || ep.node === config.nodeName) di.subscribe(ep.id, k8sSelectors(ep.namespace, ep.serviceAccount));
  }
  const lastErrors: string[] = [];
  const note = (m: string): void => {
    lastErrors.unshift(`${new Date().toISOString()} ${m}`);
    lastErrors.length = Math.min(lastErrors.length, 5);
  };
  for (const src of [wl, di]) {
    src.on('invalid', (m) => (log.warn(m), note(m)));
    src.on('denied', (m) => (log.warn(m), note(m)));
    src.on('fatal', (m) => (log.error(m), note(m)));
  }
  store.on('change', (c) => {
    if (c.kind === 'rotated') metrics.rotations.inc();
    log.info({ kind: c.kind, spiffeId: c.svid.spiffeId, notAfter: c.svid.notAfter.toISOString(), ...(c.kind === 'removed' ? { reason: c.reason } : {}) }, 'SVID change');
  });
  const ep = (ip: string) => {
    const e = world.byIp.get(ip);
    return e ? { endpoint: e.id, namespace: e.namespace, serviceAccount: e.serviceAccount } : null;
  };
  const onEvent = (e: TunnelEvent): void => {
    if (e.kind === 'handshake') {
      metrics.handshakes.inc({ side: e.side, result: e.ok ? 'ok' : 'failed' });
      if (!e.ok) {
        metrics.failures.inc({ side: e.side, code: e.code });
        const [host] = e.remote.split(':');
        const sink = args.flows();
        if (sink.enabled !== false) {
          sink.emit(
            newFlow({
              verdict: 'DROPPED',
              drop_reason_desc: 'AUTH_REQUIRED',
              IP: { source: e.side === 'server' ? host ?? '' : '', destination: e.side === 'client' ? host ?? '' : '', ipVersion: 'IPv4' },
              traffic_direction: e.side === 'server' ? 'INGRESS' : 'EGRESS',
              node_name: config.nodeName,
              Summary: `mTLS tunnel handshake refused (${e.side}): ${e.code}: ${e.reason}`,
            }),
          );
        }
      }
    }
  };
  const [tlHost, tlPort] = ((): [string, number] => {
    const hp = parseAddress(idc.tunnel.listen, 'identity.tunnel.listen', true);
    return [hp.host, hp.port];
  })();
  const server = new TunnelServer({
    listen: { host: tlHost, port: tlPort },
    store,
    trustDomain: idc.trustDomain,
    localEndpoint: (ip) => {
      const e = world.byIp.get(ip);
      return e && (e.node === undefined || e.node === config.nodeName) ? ep(ip) : null;
    },
    endpointByIp: ep,
    route: (t: RedirectTarget) => {
      const i = localDst.findIndex((d) => d.endpoint === t.destination.endpoint && d.port === t.destination.port);
      return i >= 0 ? (acceptors[i] ?? null) : null;
    },
    judgeL4: (t) => {
      const v = args.judge({ from: { endpoint: t.source.endpoint! }, to: { endpoint: t.destination.endpoint! }, port: t.destination.port, protocol: 'TCP' });
      if (!v.allowed) return v.reason;
      if (v.l7 !== null) return `port ${t.destination.port} has ${v.l7} rules and no proxy listener on this node to enforce them`;
      return null;
    },
    onEvent,
    log,
  });
  const tunnelClient = new TunnelClient(store, onEvent);
  const outboundAt = (listen: { host: string; port: number }, redirects: RedirectSource, transparent = false): TunnelOutbound =>
    new TunnelOutbound({
      listen,
      redirects,
      // A datapath redirect stands for every source: one the policy allows without
      // authentication keeps its plain TCP path (docs/identity.md, Transparent connections).
      ...(transparent
        ? {
            plaintextAllowed: (t: RedirectTarget) => {
              if (!t.destination.endpoint) return false;
              const from = t.source.endpoint ? { endpoint: t.source.endpoint } : { entity: 'world' as const };
              const v = args.judge({ from, to: { endpoint: t.destination.endpoint }, port: t.destination.port, protocol: 'TCP' });
              return v.allowed && !v.authRequired;
            },
          }
        : {}),
      store,
      client: tunnelClient,
      trustDomain: idc.trustDomain,
      endpoint: (id) => {
        const e = world.byId.get(id);
        return e ? { namespace: e.namespace, serviceAccount: e.serviceAccount } : null;
      },
      isLocal: (id) => world.byId.has(id) && isLocal(world, id, config.nodeName),
      peerFor: (id) => {
        const e = world.byId.get(id);
        const node = e?.node === undefined ? undefined : world.nodes.find((n) => n.name === e.node);
        if (!node) return null;
        // A node's tunnel listener: world.yaml `tunnel`, else `<address>:15008`; no address, no tunnel.
        const tunnel = node.tunnel ?? (node.address !== null ? `${node.address}:15008` : null);
        if (tunnel === null) return null;
        const hp = parseAddress(tunnel, `nodes.${node.name}.tunnel`);
        return { host: hp.host, port: hp.port };
      },
      flows: args.flows(),
      describe: args.describe,
      nodeName: config.nodeName,
      log,
    });
  const outbound = remote.map(({ redirect }) => outboundAt(redirect.listen, redirect.source));
  // Transparent: the datapath redirects connections that require authentication here
  // (datapath/tunnel-redirects.ts); the original destination comes from its tuple map.
  const transparentListen = parseAddress(idc.tunnel.outbound, 'identity.tunnel.outbound');
  const component: Component = {
    name: 'identity',
    async start() {
      wl.start();
      di.start();
      await server.start();
      const transparent = args.transparent?.() ?? null;
      if (transparent) outbound.push(outboundAt({ host: transparentListen.host, port: transparentListen.port }, transparent, true));
      for (const o of outbound) await o.start();
      log.info({ tunnel: `${server.address.host}:${server.address.port}`, outbound: outbound.map((o) => `${o.address.host}:${o.address.port}`) }, 'identity and tunnel started');
    },
    async stop() {
      for (const o of outbound) await o.stop();
      outbound.length = remote.length;
      tunnelClient.close();
      await server.stop();
      wl.stop();
      di.stop();
      store.close();
    },
    status() {
      const svids = store.list().map((s) => ({ spiffeId: s.spiffeId, notAfter: s.notAfter.toISOString(), serial: s.serial }));
      const w = wl.status();
      const d = di.status();
      return {
        trustDomain: idc.trustDomain,
        source: {
          workloadApi: { address: wl.address, connected: w.svids.connected, lastError: w.svids.lastError ?? null },
          delegatedIdentity: {
            address: di.address,
            connected: d.bundles.connected,
            subscriptions: Object.fromEntries(Object.entries(d.subscriptions).map(([k, s]) => [k, { connected: s.connected, lastError: s.lastError ?? null }])),
            lastError: d.bundles.lastError ?? null,
          },
          recentErrors: lastErrors,
        },
        bundles: Object.fromEntries([...store.bundles].map(([td, roots]) => [td, roots.length])),
        svids,
        rotations: store.rotations,
        tunnel: {
          ...server.status(),
          outbound: outbound.map((o) => ({ listen: `${o.address.host}:${o.address.port}`, ...o.stats, plaintext: o.plaintext })),
          clientSessions: tunnelClient.sessions(),
          handshakes: tunnelClient.handshakes,
          handshakeFailures: tunnelClient.handshakeFailures + server.stats.handshakeFailures,
        },
      };
    },
  };
  return {
    localRedirects: local,
    components: [component],
    setAcceptors(list) {
      acceptors = list;
    },
  };
}

/** The identity metrics, for the agent's metrics registry. */
export const identityMetrics: client.Metric[] = Object.values(metrics) as unknown as client.Metric[];
