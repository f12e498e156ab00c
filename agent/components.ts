/**
 * Builds the agent's components from Config in start order. Each area exposes a factory; this
 * file only wires them together: observability first (its sink is what every producer emits
 * into), then the eBPF datapath when enabled and possible, then the proxy listeners of the
 * redirect table (transparent through the datapath's tuple map when it runs, explicit otherwise).
 */
import type { Logger } from 'pino';
import { durationMs, type Config } from '../config/index.js';
import { endpointIdentityNumbers } from '../policy/index.js';
import { createObservability, NULL_SINK, type FlowSink } from '../observe/index.js';
import { describeFromWorld, explicitRedirects, proxyOptionsFromConfig, startProxy, type RunningProxy } from '../proxy/index.js';
import type { Component } from './agent.js';
import { datapathComponent } from '../datapath/index.js';
import { ChainedRedirectSource } from '../datapath/redirect-chain.js';
import type { LoadedPolicy } from './policy-source.js';
import { VERSION } from './cli/version.js';

export function buildComponents(ctx: { config: Config; log: Logger; policy: LoadedPolicy }): Component[] {
  const { config, log, policy } = ctx;
  const observability = createObservability({ config: config.hubble, log, nodeName: config.nodeName, version: VERSION });
  const sinkRef: { sink: FlowSink } = { sink: config.hubble.enabled ? observability.sink : NULL_SINK };

  // Validated now (before anything listens) so a bad redirect fails the start as a whole.
  const redirects = explicitRedirects(config.standalone.redirects, (ip) => policy.engine.endpointByIp(ip));
  const proxyOptions = proxyOptionsFromConfig(config.proxy, durationMs);
  let proxy: RunningProxy | null = null;
  const datapath = datapathComponent({ config, log, policy, flows: sinkRef.sink });
  // Flow descriptions follow the live world (policy-source.ts swaps it on every change).
  let describe = describeFromWorld(policy.world, endpointIdentityNumbers(policy.world));
  policy.onChange((world) => {
    describe = describeFromWorld(world, endpointIdentityNumbers(world));
  });

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
          redirects: transparent ? redirects.map((r) => ({ ...r, source: new ChainedRedirectSource([transparent, r.source]) })) : redirects,
          log,
          flows: sinkRef.sink,
          limits: proxyOptions,
          describe: (endpoint, ip) => describe(endpoint, ip),
          nodeName: config.nodeName,
        });
      },
      async stop() {
        await proxy?.close();
      },
      status: () => ({
        mode: datapath.datapath ? 'transparent+explicit' : 'explicit',
        listeners: (proxy?.listeners ?? []).map((l) => ({ protocol: l.protocol, address: `${l.address.host}:${l.address.port}`, ...l.stats })),
      }),
    },
  ];
  return components;
}
