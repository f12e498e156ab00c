/**
 * The composition root: builds every component from the one Config, wires flows to sinks, and
 * owns startup order and shutdown. Nothing imports agent/.
 *
 * Start order: policy (load + validate, fail fast) -> health endpoint (answers /readyz 503 until
 * everything runs) -> observability (sinks first, so no flow is lost) -> datapath (optional) ->
 * proxy listeners. Stop runs in reverse.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { HealthServer } from './health.js';
import { endpointsView } from './endpoints-view.js';
import { startStandalonePolicy, type LoadedPolicy, type PolicyState } from './policy-source.js';

/** One started piece of the agent; `stop()` must be safe to call once after `start()`. */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Facts for `tendril status` / GET /status. */
  status?(): Record<string, unknown>;
  /** Extra health-endpoint routes (e.g. `/fqdn/cache`); null when the path is not its own. */
  route?(method: string, path: string): Promise<{ code: number; body: unknown } | null>;
}

export class Agent {
  private readonly started: Component[] = [];
  private readonly pending = new Set<string>();
  private health: HealthServer | null = null;
  private policy: PolicyState | null = null;
  /** Stops the policy source (file watches, API watches). */
  private stopSource: (() => void | Promise<void>) | null = null;
  private k8sStatus: (() => Record<string, unknown>) | null = null;
  private readonly startedAt = new Date();
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly components: (ctx: { config: Config; log: Logger; policy: LoadedPolicy }) => Component[],
  ) {}

  async start(): Promise<void> {
    const t0 = performance.now();
    if (this.config.mode === 'kubernetes') {
      const { KubernetesSource, kubeConfigFor } = await import('./kubernetes/source.js');
      const plog = this.log.child({ component: 'kubernetes' });
      const k8s = new KubernetesSource(kubeConfigFor(this.config), this.config, plog, { resyncMs: this.config.kubernetes.resync });
      this.stopSource = () => k8s.stop();
      this.k8sStatus = () => k8s.status();
      this.policy = await k8s.start();
    } else {
      const { state, source } = startStandalonePolicy(this.config, this.log.child({ component: 'policy' }));
      this.policy = state;
      this.stopSource = () => source.close();
    }
    const comps = this.components({ config: this.config, log: this.log, policy: this.policy });
    for (const c of comps) this.pending.add(c.name);
    this.health = new HealthServer(this.config.health.listenAddress, this, this.log.child({ component: 'health' }));
    await this.health.start();
    for (const c of comps) {
      this.log.debug({ component: c.name }, 'starting component');
      await c.start();
      this.started.push(c);
      this.pending.delete(c.name);
    }
    this.log.info({ mode: this.config.mode, components: comps.map((c) => c.name), startupMs: Math.round(performance.now() - t0) }, 'agent ready');
  }

  /** Every endpoint (id absent) or one endpoint with its resolved policy; null when unknown. */
  endpoints(id?: string): unknown {
    return this.policy ? endpointsView(this.policy, id) : null;
  }

  /** Agent metrics in Prometheus text format (GET /metrics on the health endpoint). */
  metrics(): string {
    const s = this.policy?.stats;
    if (!s) return '';
    return [
      '# HELP tendril_policy_change_total Policy changes applied (success) or rejected with the running set kept (failure).',
      '# TYPE tendril_policy_change_total counter',
      `tendril_policy_change_total{outcome="success"} ${s.success}`,
      `tendril_policy_change_total{outcome="failure"} ${s.failure}`,
      '# HELP tendril_policy_revision Revision of the policy set in force (1 = as loaded at start).',
      '# TYPE tendril_policy_revision gauge',
      `tendril_policy_revision ${s.revision}`,
      '# HELP tendril_policy_change_rejected 1 while the newest change was rejected (the running set is older than the sources).',
      '# TYPE tendril_policy_change_rejected gauge',
      `tendril_policy_change_rejected ${s.lastError ? 1 : 0}`,
      '',
    ].join('\n');
  }

  ready(): { ready: boolean; pending: string[] } {
    const pending = this.policy ? [...this.pending] : ['policy', ...this.pending];
    return { ready: pending.length === 0 && this.stopping === null, pending };
  }

  status(): Record<string, unknown> {
    return {
      mode: this.config.mode,
      nodeName: this.config.nodeName,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      ready: this.ready().ready,
      policy: this.policy ? { ...this.policy.summary, changes: this.policy.stats } : null,
      ...(this.k8sStatus ? { kubernetes: this.k8sStatus() } : {}),
      // Measured, not configured: socket LB replaces kube-proxy only while the datapath runs.
      kubeProxyReplacement: this.config.kubeProxyReplacement && this.running('datapath'),
      hubble: { enabled: this.config.hubble.enabled, listenAddress: this.config.hubble.listenAddress, metrics: this.config.hubble.metrics },
      // Measured: only a running WireGuard component encrypts anything.
      encryption: this.running('wireguard') ? { enabled: true, type: 'wireguard' } : { enabled: false },
      components: Object.fromEntries(this.started.map((c) => [c.name, c.status?.() ?? { running: true }])),
    };
  }

  /** True when the named component started and reports itself running. */
  private running(name: string): boolean {
    const c = this.started.find((x) => x.name === name);
    if (!c) return false;
    const st = c.status?.() as { running?: boolean } | undefined;
    return st?.running !== false;
  }

  /** Asks each started component for a route (health endpoint paths beyond /healthz, /readyz, /status). */
  async route(method: string, path: string): Promise<{ code: number; body: unknown } | null> {
    for (const c of this.started) {
      const r = await c.route?.(method, path);
      if (r) return r;
    }
    return null;
  }

  /** Stops components in reverse start order; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.stopSource?.();
      for (const c of [...this.started].reverse()) {
        try {
          await c.stop();
        } catch (err) {
          this.log.error({ err, component: c.name }, 'component failed to stop cleanly');
        }
      }
      await this.health?.stop();
      this.log.info('agent stopped');
    })();
    return this.stopping;
  }
}
