/**
 * `tendril connectivity test` plan: the allow/deny paths the loaded policies imply. For every
 * endpoint whose ingress is enforced and every TCP port its ingress rules name (numbers, and
 * names resolved through its own container ports), every other endpoint is a client: the engine
 * gives the expected L3/L4 verdict. `probeManifests()` turns the plan into Kubernetes objects: a
 * server pod per probed endpoint (same namespace and labels, so the same policies select it,
 * listening on the ports, behind a headless Service for its DNS name) and a client pod per path (the client's namespace and labels) that
 * connects and exits 0 on success; each client carries the expected verdict as an annotation.
 */
import { stringify } from 'yaml';
import type { Engine, Endpoint } from '../policy/index.js';

export interface ProbePath {
  client: string;
  server: string;
  port: number;
  expect: 'allowed' | 'denied';
  reason: string;
}

export function connectivityPlan(engine: Engine): ProbePath[] {
  const world = engine.world;
  const out: ProbePath[] = [];
  for (const server of world.endpoints) {
    const rules = engine.rulesFor(server).ingress;
    if (rules.length === 0) continue;
    const ports = new Set<number>();
    for (const r of rules) {
      for (const e of [...r.ingress.allow, ...r.ingress.deny]) {
        for (const pr of e.ports ?? []) {
          for (const p of pr.ports) {
            if (p.proto !== 'TCP' && p.proto !== 'ANY') continue;
            if (p.port === null && p.name) {
              const cp = server.ports?.get(p.name);
              if (cp && cp.protocol === 'TCP') ports.add(cp.port);
            } else if (p.port) ports.add(p.port);
          }
        }
      }
    }
    for (const port of [...ports].sort((a, b) => a - b)) {
      for (const client of world.endpoints) {
        if (client === server) continue;
        const v = engine.connection({ from: { endpoint: client.id }, to: { endpoint: server.id }, port, protocol: 'TCP' }).verdict;
        out.push({ client: client.id, server: server.id, port, expect: v.allowed ? 'allowed' : 'denied', reason: v.reason });
      }
    }
  }
  return out;
}

const dns = (s: string): string => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50);

/** Probe pods as a YAML stream (`kubectl apply -f -`); `image` must carry `nc` (busybox does). */
export function probeManifests(engine: Engine, plan: readonly ProbePath[], image = 'busybox:1.36'): string {
  const world = engine.world;
  const docs: unknown[] = [];
  const servers = new Map<string, Set<number>>();
  for (const p of plan) servers.set(p.server, (servers.get(p.server) ?? new Set()).add(p.port));
  const podOf = (id: string): Endpoint => world.byId.get(id)!;
  for (const [id, ports] of servers) {
    const ep = podOf(id);
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `tendril-probe-srv-${dns(ep.name)}`, namespace: ep.namespace, labels: { ...ep.labels, 'tendril.io/probe': 'server', 'tendril.io/probe-of': dns(ep.name) } },
      spec: {
        serviceAccountName: ep.serviceAccount,
        containers: [...ports].map((port) => ({ name: `listen-${port}`, image, command: ['sh', '-c', `while true; do echo ok | nc -l -p ${port}; done`], ports: [{ containerPort: port }] })),
      },
    });
    // Headless: DNS answers the pod address itself, so the probe dials the pod (no service translation).
    docs.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `tendril-probe-srv-${dns(ep.name)}`, namespace: ep.namespace },
      spec: { clusterIP: 'None', selector: { 'tendril.io/probe': 'server', 'tendril.io/probe-of': dns(ep.name) }, ports: [...ports].map((port) => ({ name: `p${port}`, port })) },
    });
  }
  plan.forEach((p, i) => {
    const c = podOf(p.client);
    const s = podOf(p.server);
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `tendril-probe-${i}-${dns(c.name)}`.slice(0, 63),
        namespace: c.namespace,
        labels: { ...c.labels, 'tendril.io/probe': 'client' },
        annotations: { 'tendril.io/expect': p.expect, 'tendril.io/path': `${p.client} -> ${p.server}:${p.port}`, 'tendril.io/reason': p.reason },
      },
      spec: {
        restartPolicy: 'Never',
        serviceAccountName: c.serviceAccount,
        containers: [{ name: 'probe', image, command: ['sh', '-c', `nc -w 3 tendril-probe-srv-${dns(s.name)}.${s.namespace}.svc ${p.port} </dev/null`] }],
      },
    });
  });
  return docs.map((d) => stringify(d)).join('---\n');
}
