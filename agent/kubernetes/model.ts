/**
 * The cluster state the watches hold, turned into the same model standalone mode reads from
 * world.yaml (one model, two sources; docs/kubernetes.md): Pods -> endpoints (labels, IPs,
 * service account, node, named container ports), Namespaces -> namespace labels, Services +
 * EndpointSlices -> services (selector-less ones take their EndpointSlice addresses), Nodes ->
 * nodes, the local node's addresses -> `host`, the `default/kubernetes` EndpointSlice addresses
 * -> `kube-apiserver`. Policy objects are parsed one by one (an invalid object is left out and
 * its error reported in its status, as Cilium does); an unchanged object keeps its parsed rules.
 */
import { stringify } from 'yaml';
import { AggregateInputError, TendrilError } from '../../core/index.js';
import { mergePolicySets, parsePolicyText, type PolicySet, type WorldInput } from '../../policy/index.js';
import type { KubeObject } from './reflector.js';

export interface PolicyObjectResult {
  kind: string;
  namespace: string | null;
  name: string;
  generation: number | undefined;
  /** null when valid. */
  error: string | null;
}

type Obj = Record<string, any>;

const POLICY_KINDS = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy'];

export class PolicyObjects {
  private readonly cache = new Map<string, { rv: string; set: PolicySet | null; result: PolicyObjectResult }>();
  private last: { sets: PolicySet[]; merged: PolicySet } | null = null;

  /** Parses every policy object (cached by uid/resourceVersion); returns the valid set and every result. */
  build(objects: Iterable<KubeObject>): { policies: PolicySet; results: PolicyObjectResult[] } {
    const sets: PolicySet[] = [];
    const results: PolicyObjectResult[] = [];
    const seen = new Set<string>();
    for (const o of objects) {
      if (!POLICY_KINDS.includes(o.kind ?? '')) continue;
      const ns = o.kind === 'CiliumClusterwideNetworkPolicy' ? null : (o.metadata?.namespace ?? 'default');
      const id = `${o.kind}/${ns ?? ''}/${o.metadata?.name ?? ''}`;
      seen.add(id);
      // The spec changes bump `generation` (a status write does not): reparse only then.
      const rv = `${o.metadata?.uid ?? ''}@${o.metadata?.generation !== undefined ? `g${o.metadata.generation}` : (o.metadata?.resourceVersion ?? '')}`;
      let hit = this.cache.get(id);
      if (!hit || hit.rv !== rv) {
        hit = { rv, ...parseObject(o, id, ns) };
        this.cache.set(id, hit);
      }
      if (hit.set) sets.push(hit.set);
      results.push(hit.result);
    }
    for (const k of [...this.cache.keys()]) if (!seen.has(k)) this.cache.delete(k);
    // Same parsed objects as last time -> the same PolicySet object (no engine swap).
    if (!this.last || this.last.sets.length !== sets.length || this.last.sets.some((x, i) => x !== sets[i])) this.last = { sets, merged: mergePolicySets(sets) };
    return { policies: this.last.merged, results };
  }
}

function parseObject(o: KubeObject, id: string, ns: string | null): { set: PolicySet | null; result: PolicyObjectResult } {
  const base = { kind: o.kind!, namespace: ns, name: o.metadata?.name ?? '', generation: o.metadata?.generation };
  // Only the fields a policy document has; the API's metadata (timestamps, managedFields) and
  // status are not policy.
  const doc: Obj = { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata?.name, ...(ns !== null ? { namespace: ns } : {}) } };
  for (const f of ['spec', 'specs']) if ((o as Obj)[f] !== undefined && (o as Obj)[f] !== null) doc[f] = plain((o as Obj)[f]);
  try {
    return { set: parsePolicyText(stringify(doc), `k8s:${id}`), result: { ...base, error: null } };
  } catch (err) {
    const msg = err instanceof AggregateInputError ? err.errors.map((e) => e.message).join('; ') : err instanceof TendrilError ? err.message : String(err);
    return { set: null, result: { ...base, error: msg } };
  }
}

/** Typed list items are class instances; the parser wants plain JSON. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

const lower = (s: unknown, d: string): string => (typeof s === 'string' ? s.toUpperCase() : d);

/** World input from the watched cluster objects. `nodeName` is this agent's node (its addresses are `host`). */
export function worldFromCluster(stores: Record<string, Iterable<KubeObject>>, nodeName: string): WorldInput {
  const namespaces = [...(stores.Namespace ?? [])].map((n) => ({ name: n.metadata!.name!, labels: { ...(n.metadata?.labels ?? {}) } }));
  const endpoints: NonNullable<WorldInput['endpoints']> = [];
  const seenIps = new Set<string>();
  for (const p of stores.Pod ?? []) {
    const pod = p as Obj;
    if (pod.spec?.hostNetwork) continue; // host-network pods carry the node's identity
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const ips: string[] = [...new Set<string>([...(pod.status?.podIPs ?? []).map((x: Obj) => x.ip), pod.status?.podIP].filter((x): x is string => typeof x === 'string' && x !== ''))].filter((ip) => !seenIps.has(ip));
    if (ips.length === 0) continue; // not scheduled / no address yet: no traffic to judge
    for (const ip of ips) seenIps.add(ip);
    const ports: { name: string; containerPort: number; protocol: string }[] = [];
    const names = new Set<string>();
    for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
      for (const cp of c.ports ?? []) {
        if (!cp.name || names.has(cp.name)) continue;
        names.add(cp.name);
        ports.push({ name: cp.name, containerPort: cp.containerPort, protocol: lower(cp.protocol, 'TCP') });
      }
    }
    endpoints.push({
      name: pod.metadata.name,
      namespace: pod.metadata.namespace ?? 'default',
      labels: { ...(pod.metadata.labels ?? {}) },
      ips,
      serviceAccount: pod.spec?.serviceAccountName ?? 'default',
      ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      ...(ports.length ? { ports } : {}),
    });
  }
  // EndpointSlice addresses per service (label kubernetes.io/service-name).
  const sliceAddrs = new Map<string, string[]>();
  for (const s of stores.EndpointSlice ?? []) {
    const slice = s as Obj;
    const svc = slice.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const id = `${slice.metadata.namespace}/${svc}`;
    const list = sliceAddrs.get(id) ?? [];
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) if (!list.includes(a)) list.push(a);
    }
    sliceAddrs.set(id, list);
  }
  const services: NonNullable<WorldInput['services']> = [];
  for (const s of stores.Service ?? []) {
    const svc = s as Obj;
    const type = svc.spec?.type;
    if (type === 'ExternalName') continue; // not modelled (docs/policy.md)
    const id = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const selector = svc.spec?.selector && Object.keys(svc.spec.selector).length ? { ...svc.spec.selector } : undefined;
    const clusterIP = typeof svc.spec?.clusterIP === 'string' && svc.spec.clusterIP !== 'None' && svc.spec.clusterIP !== '' ? svc.spec.clusterIP : undefined;
    services.push({
      name: svc.metadata.name,
      namespace: svc.metadata.namespace ?? 'default',
      labels: { ...(svc.metadata.labels ?? {}) },
      ...(selector ? { selector } : { endpoints: sliceAddrs.get(id) ?? [] }),
      ...(clusterIP ? { clusterIP } : {}),
      ports: (svc.spec?.ports ?? []).map((p: Obj) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        ...(p.targetPort !== undefined && p.targetPort !== null ? { targetPort: p.targetPort } : {}),
        protocol: lower(p.protocol, 'TCP'),
      })),
    });
  }
  const nodes: NonNullable<WorldInput['nodes']> = [];
  const host: string[] = [];
  const podIps = seenIps;
  for (const n of stores.Node ?? []) {
    const node = n as Obj;
    const addrs: string[] = (node.status?.addresses ?? []).filter((a: Obj) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a: Obj) => a.address);
    const address = addrs.find((a) => !podIps.has(a));
    const podCIDRs: string[] = node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : []);
    nodes.push({
      name: node.metadata.name,
      labels: { ...(node.metadata.labels ?? {}) },
      ...(address ? { address } : {}),
      podCIDRs,
      annotations: { ...(node.metadata.annotations ?? {}) },
    });
    if (node.metadata.name === nodeName) host.push(...addrs.filter((a) => !podIps.has(a)));
  }
  const apiserver = sliceAddrs.get('default/kubernetes') ?? [];
  return { namespaces, endpoints, services, nodes, entities: { host: [...new Set(host)], 'kube-apiserver': apiserver.filter((a) => !podIps.has(a)) } };
}
