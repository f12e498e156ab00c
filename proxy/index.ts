/**
 * proxy/: the node's L7 policy proxy. Listeners per redirect (one per L7-enforced endpoint and
 * port), HTTP/1.1 parsing with hardened rules, per-request enforcement through the policy engine,
 * upstream pooling, the protocol's own denials, and one Flow per request/response/denial.
 * Transparent mode plugs in through `RedirectSource` (redirect-source.ts).
 * May import: core, policy (types + engine), observe, native (through RedirectSource only).
 */
import type { Logger } from 'pino';
import type { HostPort } from '../core/index.js';
import type { FlowSink } from '../observe/index.js';
import type { PolicyEngine } from '../policy/api.js';
import { describeByName, type DescribeEndpoint } from './flows.js';
import { HttpListener, type HttpListenerStats } from './http/http-listener.js';
import { resolveProxyOptions, type ProxyOptions } from './options.js';
import type { Duplex } from 'node:stream';
import type { RedirectSource, RedirectTarget } from './redirect-source.js';
import { UpstreamPools } from './http/upstream-conn.js';
import { KafkaListener, type KafkaListenerStats } from './kafka/listener.js';

export { ExplicitRedirectSource, normalizeIp, type RedirectSource, type RedirectTarget, type RedirectPeer } from './redirect-source.js';
export { explicitRedirects, parseDestination, parseAddress, type ExplicitRedirectSpec } from './explicit-config.js';
export { resolveProxyOptions, DEFAULT_PROXY_OPTIONS, type ProxyOptions } from './options.js';
export { describeByName, type DescribeEndpoint } from './flows.js';
export { ACCESS_DENIED_BODY } from './deny.js';
export { gateAuthentication, isAuthDenial } from './auth-gate.js';

/** One proxy listener to run. */
export interface ProxyRedirect {
  /** Address to listen on (port 0 = any; the bound port is in `listeners[i].address`). */
  listen: HostPort;
  protocol: 'http' | 'kafka';
  /** Who is talking and where they meant to go, per accepted connection. */
  source: RedirectSource;
  /** Kafka, explicit mode: broker addresses in Metadata/FindCoordinator responses become this ('listen' = the bound listen address). */
  advertise?: { host: string; port: number } | 'listen';
}

export interface StartProxyArgs {
  engine: PolicyEngine;
  redirects: readonly ProxyRedirect[];
  log: Logger;
  flows: FlowSink;
  /** Limits and normalization options; defaults from DEFAULT_PROXY_OPTIONS. */
  limits?: Partial<ProxyOptions>;
  /** Endpoint names -> flow endpoints (labels); default: namespace/pod only. */
  describe?: DescribeEndpoint;
  /** Node name put on flows. */
  nodeName?: string;
}

export interface RunningListener {
  protocol: 'http' | 'kafka';
  address: HostPort;
  stats: HttpListenerStats | KafkaListenerStats;
  /**
   * Serves a connection that arrives already attributed (a decrypted mTLS tunnel stream), judged
   * exactly like an accepted socket whose RedirectSource returned `target`. Kafka listeners do not
   * serve tunnelled streams: they close them (fail closed).
   */
  acceptStream: (stream: Duplex, target: RedirectTarget) => void;
}

export interface RunningProxy {
  listeners: RunningListener[];
  /** Stops accepting, closes client connections and upstream pools. Idempotent. */
  close(): Promise<void>;
}

/** Starts one listener per redirect; on any bind failure closes what started and throws TND_PROXY_LISTEN. */
export async function startProxy(args: StartProxyArgs): Promise<RunningProxy> {
  const options = resolveProxyOptions(args.limits);
  const log = args.log.child({ component: 'proxy' });
  const pools = new UpstreamPools(options);
  const started: (HttpListener | KafkaListener)[] = [];
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all(started.map((l) => l.close()));
      await pools.close();
    })());
  try {
    for (const r of args.redirects) {
      if (r.protocol === 'kafka') {
        const k = new KafkaListener({
          listen: r.listen,
          redirects: r.source,
          engine: args.engine,
          flows: args.flows,
          log,
          describe: args.describe ?? describeByName,
          nodeName: args.nodeName ?? '',
          ...(r.advertise ? { advertise: r.advertise } : {}),
        });
        await k.start();
        started.push(k);
        log.info({ listen: `${k.address.host}:${k.address.port}`, protocol: r.protocol }, 'proxy listener started');
        continue;
      }
      const l = new HttpListener({
        listen: r.listen,
        redirects: r.source,
        engine: args.engine,
        pools,
        flows: args.flows,
        log,
        options,
        describe: args.describe ?? describeByName,
        nodeName: args.nodeName ?? '',
      });
      await l.start();
      started.push(l);
      log.info({ listen: `${l.address.host}:${l.address.port}`, protocol: r.protocol }, 'proxy listener started');
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    listeners: started.map((l) =>
      l instanceof KafkaListener
        ? { protocol: 'kafka' as const, address: l.address, stats: l.stats, acceptStream: (stream: Duplex) => stream.destroy() }
        : { protocol: 'http' as const, address: l.address, stats: l.stats, acceptStream: (stream: Duplex, target: RedirectTarget) => l.acceptStream(stream, target) },
    ),
    close,
  };
}
export { describeFromWorld, type WorldEndpointsView } from './describe-world.js';
export { proxyOptionsFromConfig } from './config-options.js';
export { KafkaListener, DEFAULT_MAX_FRAME_BYTES, type KafkaListenerStats } from './kafka/listener.js';
export * from './dns/index.js';
