/**
 * What `tendril endpoint list|get` shows (GET /endpoints on the health endpoint): each endpoint of
 * the policy state in force with its numeric identity, addresses, node, named ports and whether
 * ingress/egress are enforced; one endpoint adds its identity labels and resolved rules.
 */
import { describeEndpoint, endpointIdentityNumbers } from '../policy/index.js';
import type { PolicyState } from './policy-source.js';

export interface EndpointRow {
  endpoint: string;
  identity: number | null;
  ips: string[];
  node: string | null;
  ports: string[];
  ingress: string;
  egress: string;
}

export function endpointsView(state: PolicyState, id?: string): unknown {
  const engine = state.engine.current;
  const world = state.world;
  const ids = endpointIdentityNumbers(world);
  const row = (epId: string): EndpointRow | null => {
    const ep = world.byId.get(epId);
    if (!ep) return null;
    const d = describeEndpoint(engine, ep);
    return {
      endpoint: ep.id,
      identity: ids.get(ep.id)?.identity ?? null,
      ips: ep.ips,
      node: ep.node ?? null,
      ports: [...(ep.ports ?? [])].map(([n, p]) => `${n}=${p.port}/${p.protocol}`),
      ingress: d.ingress.mode,
      egress: d.egress.mode,
    };
  };
  if (id === undefined) return { revision: state.stats.revision, endpoints: world.endpoints.map((e) => row(e.id)!) };
  const r = row(id);
  if (!r) return null;
  return { ...r, policy: describeEndpoint(engine, world.byId.get(id)!) };
}
