/**
 * Flow endpoints from the world model: namespace, pod name and the identity labels as Hubble
 * prints them (`k8s:app=checkout-service`, `reserved:world`). Precomputed per endpoint, so the
 * per-connection cost is one map lookup.
 */
import type { Endpoint } from '../observe/index.js';
import type { DescribeEndpoint } from './flows.js';

/** The part of policy's `World` this needs (structural, so policy/ may grow freely). */
export interface WorldEndpointsView {
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
  return (endpoint) => {
    if (endpoint === null) return WORLD;
    const known = cache.get(endpoint);
    if (known) return known;
    const slash = endpoint.indexOf('/');
    return { namespace: endpoint.slice(0, slash), pod_name: endpoint.slice(slash + 1), labels: [] };
  };
}
