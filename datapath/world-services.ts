/**
 * Service table entries from the world model (Kubernetes Services + EndpointSlices, or world.yaml
 * `services`): one entry per ClusterIP and TCP/UDP port; backends are the service's pods (their
 * first address, the port `targetPort`, a name resolved through each pod's container ports) or
 * the EndpointSlice addresses of a selector-less service. A service without backends keeps its
 * entry with none, so connect() is refused (docs/datapath.md).
 */
import type { World } from '../policy/index.js';
import type { ServiceSpec } from './services.js';

export function serviceSpecsFromWorld(world: World): ServiceSpec[] {
  const out: ServiceSpec[] = [];
  for (const svc of world.services.values()) {
    if (!svc.clusterIP || svc.clusterIP.includes(':')) continue; // the socket LB is IPv4
    const pods = svc.selector
      ? world.endpoints.filter((ep) => ep.namespace === svc.namespace && Object.entries(svc.selector!).every(([k, v]) => ep.labels[k] === v)).sort((a, b) => (a.id < b.id ? -1 : 1))
      : [];
    for (const sp of svc.ports) {
      if (sp.protocol === 'SCTP') continue;
      const backends: ServiceSpec['backends'] = [];
      if (svc.selector) {
        for (const ep of pods) {
          const ip = ep.ips.find((x) => !x.includes(':'));
          if (!ip) continue;
          const port = typeof sp.targetPort === 'number' ? sp.targetPort : ep.ports?.get(sp.targetPort)?.protocol === sp.protocol ? ep.ports.get(sp.targetPort)!.port : null;
          if (port !== null) backends.push({ ip, port });
        }
      } else if (typeof sp.targetPort === 'number') {
        for (const ip of svc.endpoints) if (!ip.includes(':')) backends.push({ ip, port: sp.targetPort });
      }
      out.push({ vip: svc.clusterIP, port: sp.port, protocol: sp.protocol, backends });
    }
  }
  return out;
}
