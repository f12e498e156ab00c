/**
 * `mode: kubernetes`: the policy state is fed from the API server. Nine reflectors (list/watch)
 * keep CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy, Pod, Namespace,
 * Service, EndpointSlice, Node and ServiceAccount; after the first complete list of every one,
 * and after every change (coalesced over `debounceMs`), the model is rebuilt (model.ts) and
 * applied through the same PolicyState standalone mode uses. Each CNP/CCNP gets this node's
 * verdict written to `status.nodes.<node>` (ok, or the error naming the field), as Cilium does.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import { TendrilError } from '../../core/index.js';
import { worldFromObject, type World } from '../../policy/index.js';
import { PolicyState } from '../policy-source.js';
import { PolicyObjects, worldFromCluster, type PolicyObjectResult } from './model.js';
import { Reflector, type KubeObject, type ListPage, type ReflectorOptions, type ResourceSpec } from './reflector.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * kubeconfig file when given (`kubernetes.kubeconfig` or KUBECONFIG), else in-cluster: the
 * service-account token and CA under /var/run/secrets/kubernetes.io/serviceaccount and the API
 * address from `k8sServiceHost`/`k8sServicePort` (or KUBERNETES_SERVICE_HOST/PORT).
 */
export function kubeConfigFor(config: Config, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  const file = config.kubernetes.kubeconfig || env.KUBECONFIG || '';
  if (file) {
    kc.loadFromFile(file);
    return kc;
  }
  const dir = config.kubernetes.serviceAccountDir || SERVICE_ACCOUNT_DIR;
  if (!existsSync(`${dir}/token`)) {
    throw new TendrilError('TND_CONFIG_INVALID', `mode: kubernetes needs kubernetes.kubeconfig (or KUBECONFIG) or an in-cluster service-account token at ${dir}/token`, { field: 'kubernetes.kubeconfig' });
  }
  const host = config.k8sServiceHost || env.KUBERNETES_SERVICE_HOST;
  const port = config.k8sServiceHost ? config.k8sServicePort : Number(env.KUBERNETES_SERVICE_PORT || config.k8sServicePort);
  if (!host) throw new TendrilError('TND_CONFIG_INVALID', 'mode: kubernetes in-cluster needs k8sServiceHost (or KUBERNETES_SERVICE_HOST)', { field: 'k8sServiceHost' });
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  kc.loadFromClusterAndUser(
    { name: 'in-cluster', server, caFile: `${dir}/ca.crt`, skipTLSVerify: false },
    { name: 'tendril', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } },
  );
  return kc;
}

const page = (r: { items?: unknown[]; metadata?: { resourceVersion?: string; _continue?: string; continue?: string } }): ListPage => ({
  items: (r.items ?? []) as KubeObject[],
  resourceVersion: r.metadata?.resourceVersion ?? '',
  continueToken: r.metadata?._continue ?? r.metadata?.continue,
});

export function resourceSpecs(kc: KubeConfig): ResourceSpec[] {
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const disc = kc.makeApiClient(DiscoveryV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const cr = (kind: string, plural: string): ResourceSpec => ({
    kind,
    apiVersion: 'cilium.io/v2',
    path: `/apis/cilium.io/v2/${plural}`,
    list: async (o) => page(await custom.listClusterCustomObject({ group: 'cilium.io', version: 'v2', plural, limit: o.limit, _continue: o.continueToken })),
  });
  return [
    cr('CiliumNetworkPolicy', 'ciliumnetworkpolicies'),
    cr('CiliumClusterwideNetworkPolicy', 'ciliumclusterwidenetworkpolicies'),
    { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', path: '/apis/networking.k8s.io/v1/networkpolicies', list: async (o) => page(await net.listNetworkPolicyForAllNamespaces({ limit: o.limit, _continue: o.continueToken })) },
    { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods', list: async (o) => page(await core.listPodForAllNamespaces({ limit: o.limit, _continue: o.continueToken })) },
    { kind: 'Namespace', apiVersion: 'v1', path: '/api/v1/namespaces', list: async (o) => page(await core.listNamespace({ limit: o.limit, _continue: o.continueToken })) },
    { kind: 'Service', apiVersion: 'v1', path: '/api/v1/services', list: async (o) => page(await core.listServiceForAllNamespaces({ limit: o.limit, _continue: o.continueToken })) },
    { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', path: '/apis/discovery.k8s.io/v1/endpointslices', list: async (o) => page(await disc.listEndpointSliceForAllNamespaces({ limit: o.limit, _continue: o.continueToken })) },
    { kind: 'Node', apiVersion: 'v1', path: '/api/v1/nodes', list: async (o) => page(await core.listNode({ limit: o.limit, _continue: o.continueToken })) },
    { kind: 'ServiceAccount', apiVersion: 'v1', path: '/api/v1/serviceaccounts', list: async (o) => page(await core.listServiceAccountForAllNamespaces({ limit: o.limit, _continue: o.continueToken })) },
  ];
}

export interface KubernetesSourceOptions extends ReflectorOptions {
  debounceMs?: number;
  /** Give up on the first complete list after this long (start failure). */
  syncTimeoutMs?: number;
}

export class KubernetesSource {
  readonly reflectors: Reflector[];
  private readonly objects = new PolicyObjects();
  private state: PolicyState | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly custom: CustomObjectsApi;
  /** Last status written per policy object, so unchanged verdicts are not rewritten. */
  private readonly written = new Map<string, string>();
  results: PolicyObjectResult[] = [];
  private lastWorld: { text: string; world: World } | null = null;

  constructor(
    private readonly kc: KubeConfig,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly opts: KubernetesSourceOptions = {},
  ) {
    const watch = new Watch(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.reflectors = resourceSpecs(kc).map((spec) => new Reflector(spec, watch, () => this.changed(), log.child({ resource: spec.kind }), opts));
  }

  private store(kind: string): Iterable<KubeObject> {
    return this.reflectors.find((r) => r.stats.kind === kind)!.store.values();
  }

  /** Builds the model from the current stores. */
  build(): { policies: ReturnType<PolicyObjects['build']>['policies']; world: World; results: PolicyObjectResult[] } {
    const policyObjects = [...this.store('CiliumNetworkPolicy'), ...this.store('CiliumClusterwideNetworkPolicy'), ...this.store('NetworkPolicy')];
    const { policies, results } = this.objects.build(policyObjects);
    const kinds = ['Pod', 'Namespace', 'Service', 'EndpointSlice', 'Node'];
    const input = worldFromCluster(Object.fromEntries(kinds.map((k) => [k, this.store(k)])), this.config.nodeName);
    const text = JSON.stringify(input);
    // Unchanged cluster state (e.g. only a status write) -> the same World object (no engine swap).
    const world = this.lastWorld && this.lastWorld.text === text ? this.lastWorld.world : worldFromObject(input, 'kubernetes');
    this.lastWorld = { text, world };
    return { policies, world, results };
  }

  /** Starts every watch and resolves with the policy state once each resource listed once. */
  async start(): Promise<PolicyState> {
    for (const r of this.reflectors) r.start();
    const timeout = this.opts.syncTimeoutMs ?? 60_000;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.reflectors.map((r) => r.synced())),
      new Promise((_, reject) => {
        t = setTimeout(() => {
          const pending = this.reflectors.filter((r) => !r.stats.synced).map((r) => `${r.stats.kind} (${r.stats.lastError ?? 'no answer'})`);
          reject(new TendrilError('TND_CONFIG_INVALID', `kubernetes: initial list did not complete in ${timeout} ms: ${pending.join(', ')}`));
        }, timeout);
      }),
    ]).finally(() => clearTimeout(t));
    const { policies, world, results } = this.build();
    this.state = new PolicyState(policies, world, { policyFiles: [], world: `kubernetes ${this.kc.getCurrentCluster()?.server ?? ''}` }, this.log);
    this.publish(results);
    this.log.info({ policies: policies.documents.length, endpoints: world.endpoints.length, invalid: results.filter((r) => r.error).length }, 'kubernetes state synced');
    return this.state;
  }

  private changed(): void {
    if (!this.state) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const state = this.state;
      if (!state) return;
      let next: { policies: ReturnType<PolicyObjects['build']>['policies']; world: World; results: PolicyObjectResult[] } | null = null;
      try {
        next = this.build();
      } catch (err) {
        state.apply({ error: err }, 'kubernetes');
        return;
      }
      const ok = state.apply({ policies: next.policies, world: next.world }, 'kubernetes');
      this.publish(ok ? next.results : next.results.map((r) => (r.error ? r : { ...r, error: `not enforced: ${state.stats.lastError}` })));
    }, this.opts.debounceMs ?? 50);
  }

  /** Writes each CNP/CCNP's verdict on this node into its status (only when it changed). */
  private publish(results: PolicyObjectResult[]): void {
    this.results = results;
    for (const r of results) {
      if (r.kind === 'NetworkPolicy') continue; // NetworkPolicy has no per-node status in Cilium
      const key = `${r.kind}/${r.namespace ?? ''}/${r.name}`;
      const nodeStatus = { ok: r.error === null, enforcing: r.error === null, ...(r.error ? { error: r.error } : {}), ...(r.generation !== undefined ? { localPolicyRevision: r.generation } : {}) };
      const text = JSON.stringify(nodeStatus);
      if (this.written.get(key) === text) continue;
      this.written.set(key, text);
      const body = { status: { nodes: { [this.config.nodeName]: { ...nodeStatus, lastUpdated: new Date().toISOString() } } } };
      const opts = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      const plural = r.kind === 'CiliumNetworkPolicy' ? 'ciliumnetworkpolicies' : 'ciliumclusterwidenetworkpolicies';
      const p =
        r.namespace === null
          ? this.custom.patchClusterCustomObjectStatus({ group: 'cilium.io', version: 'v2', plural, name: r.name, body }, opts)
          : this.custom.patchNamespacedCustomObjectStatus({ group: 'cilium.io', version: 'v2', plural, namespace: r.namespace, name: r.name, body }, opts);
      p.catch((err: unknown) => {
        this.written.delete(key);
        this.log.warn({ policy: key, err: (err as Error).message }, 'cannot write policy status');
      });
    }
  }

  status(): Record<string, unknown> {
    return {
      server: this.kc.getCurrentCluster()?.server ?? null,
      resources: this.reflectors.map((r) => ({ ...r.stats })),
      invalidPolicies: this.results.filter((r) => r.error).map((r) => ({ kind: r.kind, namespace: r.namespace, name: r.name, error: r.error })),
    };
  }

  /** Services as the datapath's socket-LB wants them (ClusterIP -> backend addresses). */
  world(): World | null {
    return this.state?.world ?? null;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const r of this.reflectors) r.stop();
    this.state = null;
  }
}
