/**
 * A connection to a Service (cluster-state-selectors S10): the client dials clusterIP:port; policy
 * judges the backend after translation, on the backend port (targetPort, a name resolved through
 * the backend pod's container ports, N10). The backend is the first pod of the service namespace
 * matching its selector (by `namespace/pod`), or the first address of a selector-less service.
 */
import type { Peer } from './peers.js';
import { endpointPeer, peerByIp } from './peers.js';
import type { Service, World } from './world.js';

export interface ServiceBackend {
  peer: Peer;
  /** `namespace/pod` or the backend address, as printed in trace output. */
  name: string;
  /** The backend port the connection is judged on. */
  port: number;
}

/** `port` is the service port the client dials; a service without that port or without backends is an error sentence. */
export function serviceBackend(world: World, id: string, port: number, protocol: string): ServiceBackend | string {
  const svc = world.services.get(id);
  if (!svc) return `unknown service ${JSON.stringify(id)} (not in the world file's services)`;
  const sp = svc.ports.length === 0 ? { targetPort: port, protocol: 'TCP' } : svc.ports.find((p) => p.port === port && p.protocol === protocol);
  if (!sp) return `service ${id} has no ${protocol} port ${port} (ports: ${svc.ports.map((p) => `${p.port}/${p.protocol}`).join(', ') || 'none'})`;
  for (const b of backends(svc, world)) {
    let target: number | null;
    if (typeof sp.targetPort === 'number') target = sp.targetPort;
    else {
      const cp = b.peer.endpoint?.ports?.get(sp.targetPort);
      target = cp && cp.protocol === protocol ? cp.port : null;
    }
    if (target !== null) return { ...b, port: target };
  }
  return `service ${id} has no backend for port ${port}/${protocol} (no pod matches its selector, or none defines target port ${JSON.stringify(sp.targetPort)})`;
}

function* backends(svc: Service, world: World): Generator<{ peer: Peer; name: string }> {
  if (svc.selector) {
    const sel = Object.entries(svc.selector);
    const eps = world.endpoints.filter((ep) => ep.namespace === svc.namespace && sel.every(([k, v]) => ep.labels[k] === v)).sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const ep of eps) yield { peer: endpointPeer(ep), name: ep.id };
    return;
  }
  for (const ip of svc.endpoints) {
    const p = peerByIp(world, ip);
    if (p) yield { peer: p, name: p.endpoint?.id ?? ip };
  }
}

/** The service whose clusterIP is `ip`, if any. */
export function serviceByClusterIp(world: World, ip: string): Service | undefined {
  for (const s of world.services.values()) if (s.clusterIP === ip) return s;
  return undefined;
}
