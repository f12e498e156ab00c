/**
 * Flow endpoints from the world model: namespace, pod name and the identity labels as Hubble
 * prints them (`k8s:app=checkout-service`, `reserved:world`). Precomputed per endpoint, so the
 * per-connection cost is one map lookup.
 */
import type { Endpoint } from '../observe/index.js';
import type { DescribeEndpoint } from './flows.js';

/** The part of policy's `World` this needs (structural, so policy/ may grow freely). */
export interface WorldEndpointsView {
  /** Addresses of the special entities (world.yaml `entities`). */
  entities?: Partial<Record<'host' | 'remote-node' | 'kube-apiserver', readonly string[]>>;
  byId: Map<string, { namespace: string; name: string; identity: { labels: readonly { source: string; key: string; value: string }[] } }>;
}

/** `namespace/pod` -> numeric security identity (policy's endpointIdentityNumbers). */
export type IdentityNumbers = ReadonlyMap<string, { identity: number }>;

const WORLD: Endpoint = Object.freeze({ identity: 2, labels: ['reserved:world'] }) as Endpoint;

export function describeFromWorld(world: WorldEndpointsView, identities?: IdentityNumbers): DescribeEndpoint {
  const cache = new Map<string, Endpoint>();
  for (const [id, ep] of world.byId) {
    cache.set(id, {
      identity: identities?.get(id)?.identity ?? 0,
      namespace: ep.namespace,
      pod_name: ep.name,
      labels: ep.identity.labels.map((l) => `${l.source}:${l.key}${l.value === '' ? '' : `=${l.value}`}`),
    });
  }
  // Non-endpoint peers that are entities get their reserved identity (Cilium's numbers).
  const entityByIp = new Map<string, Endpoint>();
  const reserved = { host: 1, 'remote-node': 6, 'kube-apiserver': 7 } as const;
  for (const [name, ips] of Object.entries(world.entities ?? {}) as Array<[keyof typeof reserved, readonly string[]]>) {
    for (const ip of ips) entityByIp.set(ip, Object.freeze({ identity: reserved[name], labels: [`reserved:${name}`] }) as Endpoint);
  }
  return (endpoint, ip) => {
    if (endpoint === null) return (ip !== undefined && entityByIp.get(ip)) || WORLD;
    const known = cache.get(endpoint);
    if (known) return known;
    const slash = endpoint.indexOf('/');
    return { namespace: endpoint.slice(0, slash), pod_name: endpoint.slice(slash + 1), labels: [] };
  };
}
