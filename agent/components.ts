/**
 * Builds the agent's components from Config in start order. Each area exposes a factory; this
 * file only wires them together: observability first (its sink is what every producer emits
 * into), then the eBPF datapath when enabled and possible, then the proxy listeners of the
 * redirect table (transparent through the datapath's tuple map when it runs, explicit otherwise).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { endpointIdentityNumbers } from '../policy/index.js';
import { NULL_SINK, type FlowSink } from '../observe/index.js';
import { createObservability } from '../observe/consumers/index.js';
import { describeFromWorld, explicitRedirects, proxyOptionsFromConfig, startProxy, type RunningProxy } from '../proxy/index.js';
import type { Component } from './agent.js';
import { datapathComponent } from '../datapath/index.js';
import { ChainedRedirectSource } from '../datapath/redirect-chain.js';
import type { LoadedPolicy } from './policy-source.js';
import { VERSION } from './cli/version.js';
import { encryptionComponent, worldNodeList } from './encryption.js';
import { dnsComponent } from './dns.js';
import { identityMetrics, identityWiring } from './identity.js';

export function buildComponents(ctx: { config: Config; log: Logger; policy: LoadedPolicy }): Component[] {
  const { config, log, policy } = ctx;
  const observability = createObservability({ config: config.hubble, log, nodeName: config.nodeName, version: VERSION, peers: config.mode === 'kubernetes' ? 'external' : 'self' });
  const sinkRef: { sink: FlowSink } = { sink: config.hubble.enabled ? observability.sink : NULL_SINK };

  // Validated now (before anything listens) so a bad redirect fails the start as a whole.
  const redirects = explicitRedirects(
    config.standalone.redirects.filter((r) => r.protocol !== 'dns'),
    (ip) => policy.engine.endpointByIp(ip),
  );
  const proxyOptions = proxyOptionsFromConfig(config.proxy);
  let proxy: RunningProxy | null = null;
  const datapath = datapathComponent({ config, log, policy, flows: sinkRef.sink });
  // Flow descriptions follow the live world (policy-source.ts swaps it on every change).
  let describe = describeFromWorld(policy.world, endpointIdentityNumbers(policy.world));
  policy.onChange((world) => {
    describe = describeFromWorld(world, endpointIdentityNumbers(world));
  });
  const identity = config.identity.enabled
    ? identityWiring({ config, log, world: policy.world, redirects, flows: () => sinkRef.sink, describe: (endpoint, ip) => describe(endpoint, ip), judge: (q) => policy.engine.connection(q).verdict, transparent: () => datapath.datapath?.redirectSource() ?? null })
    : null;
  if (identity) for (const m of identityMetrics) observability.metrics?.registry.registerMetric(m);
  const proxied = identity ? identity.localRedirects : redirects;

  const dns = dnsComponent({ config, log, policy, flows: () => sinkRef.sink, transparent: () => datapath.datapath?.redirectSource() ?? null });
  dns.cache.onChange((names) => datapath.applyLearned(names));
  const components: Component[] = [
    {
      name: 'observe',
      start: () => observability.start(),
      stop: () => observability.stop(),
      status: () => observability.status(),
    },
    datapath,
    {
      name: 'proxy',
      async start() {
        const transparent = datapath.datapath?.redirectSource();
        proxy = await startProxy({
          engine: policy.engine,
          redirects: transparent ? proxied.map((r) => ({ ...r, source: new ChainedRedirectSource([transparent, r.source]) })) : proxied,
          log,
          flows: sinkRef.sink,
          limits: proxyOptions,
          describe: (endpoint, ip) => describe(endpoint, ip),
          nodeName: config.nodeName,
        });
        identity?.setAcceptors(proxy.listeners);
      },
      async stop() {
        await proxy?.close();
      },
      status: () => ({
        mode: datapath.datapath ? 'transparent+explicit' : 'explicit',
        listeners: (proxy?.listeners ?? []).map((l) => ({ protocol: l.protocol, address: `${l.address.host}:${l.address.port}`, ...l.stats })),
      }),
    },
    dns,
  ];
  const encryption = encryptionComponent({ config, log, worldNodes: policy.world.nodes });
  if (encryption) {
    components.push(encryption);
    // Peers follow the node list (world.yaml or the Kubernetes Node watch) as it changes.
    policy.onChange((world) => {
      encryption.setNodes(worldNodeList(world.nodes)).catch((err: unknown) => log.warn({ err }, 'WireGuard peer reconciliation failed'));
    });
  }
  if (identity) components.push(...identity.components);
  return components;
}
