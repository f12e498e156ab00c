/**
 * Numeric security identities, as flows and BPF maps carry them. Reserved identities use
 * Cilium's numbers (pkg/identity/numericidentity.go); each world endpoint gets a stable local
 * number from FIRST_ENDPOINT_IDENTITY in `namespace/pod` order, so the datapath's maps and the
 * proxy's flows name the same peer with the same number.
 */
import type { World } from './world.js';

export const RESERVED_IDENTITY = {
  unknown: 0,
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
  'kube-apiserver': 7,
  ingress: 8,
} as const;

/** First identity handed to local endpoints (above Cilium's reserved range). */
export const FIRST_ENDPOINT_IDENTITY = 1000;

/** `namespace/pod` -> numeric identity and the endpoint's IPs. */
export function endpointIdentityNumbers(world: Pick<World, 'endpoints'>): Map<string, { identity: number; ips: string[] }> {
  const out = new Map<string, { identity: number; ips: string[] }>();
  [...world.endpoints]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .forEach((e, i) => out.set(e.id, { identity: FIRST_ENDPOINT_IDENTITY + i, ips: e.ips }));
  return out;
}
