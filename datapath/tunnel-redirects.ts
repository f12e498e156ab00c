/**
 * Connect-time redirects into the outbound mTLS tunnel listener (docs/identity.md "Transparent
 * connections", docs/datapath.md "Authentication required"). For every destination endpoint and
 * every TCP port named by a rule that requires mutual authentication, when some endpoint of this
 * node may reach it only after authentication, one `tendril_redirect` entry {any source,
 * destination identity, port, TCP} sends the connect() of a local process to the outbound
 * listener. The listener recovers the original destination from `tendril_origdst`
 * (TransparentRedirectSource) and carries the connection through the tunnel, or refuses it
 * (DROPPED, AUTH_REQUIRED): there is no plaintext path for such a destination.
 *
 * The source identity is "any" because connect4 knows a process's identity only from its cgroup
 * (`tendril_cgid`), which standalone pods do not have; the listener attributes the source by its
 * address. Pure: no maps are touched here.
 */
import type { PolicyEngine } from '../policy/api.js';
import type { Rule, World } from '../policy/index.js';
import { PROTO } from '../native/index.js';
import type { RedirectEntry } from './policy-maps.js';

/** Port ranges wider than this are not expanded (docs/identity.md lists what is not redirected). */
export const MAX_AUTH_RANGE = 1024;

/** TCP ports named by allow entries that require authentication (sorted, unique). */
export function authPorts(rules: readonly Rule[]): number[] {
  const out = new Set<number>();
  for (const r of rules) {
    for (const dir of [r.ingress, r.egress]) {
      for (const e of dir.allow) {
        if (e.auth === null || e.auth === 'disabled' || !e.ports) continue;
        for (const pr of e.ports) {
          for (const p of pr.ports) {
            if (p.port === null || p.port === 0 || (p.proto !== 'TCP' && p.proto !== 'ANY')) continue;
            const end = Math.max(p.port, p.endPort);
            if (end - p.port >= MAX_AUTH_RANGE) continue;
            for (let port = p.port; port <= end; port++) out.add(port);
          }
        }
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Allow entries that require authentication on ports no connect-time redirect can name (any
 * port, L3-only, named ports, ranges of MAX_AUTH_RANGE or more): `<policy> <direction>[i]`.
 * The agent warns about them at start (docs/identity.md, Transparent connections).
 */
export function unredirectableAuthRules(rules: readonly Rule[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    for (const [name, dir] of [['ingress', r.ingress], ['egress', r.egress]] as const) {
      for (const e of dir.allow) {
        if (e.auth === null || e.auth === 'disabled') continue;
        const wide = !e.ports || e.ports.some((pr) => pr.ports.some((p) => p.port === null || p.port === 0 || Math.max(p.port, p.endPort) - p.port >= MAX_AUTH_RANGE));
        if (wide) out.push(`${r.policy} ${e.path || name}`);
      }
    }
  }
  return out;
}

export interface TunnelRedirectArgs {
  engine: PolicyEngine;
  world: World;
  nodeName: string;
  /** Numeric identity per `namespace/pod` (endpointIdentityNumbers). */
  ids: Map<string, { identity: number }>;
  ports: readonly number[];
  /** The outbound tunnel listener, reachable from the pods. */
  listen: { ip: string; port: number };
}

/** One redirect per (destination, port) that an endpoint of this node may use only authenticated. */
export function tunnelRedirects(a: TunnelRedirectArgs): RedirectEntry[] {
  const local = a.world.endpoints.filter((e) => e.node === undefined || e.node === a.nodeName);
  const out: RedirectEntry[] = [];
  for (const dst of a.world.endpoints) {
    const dstId = a.ids.get(dst.id)?.identity;
    if (dstId === undefined) continue;
    for (const port of a.ports) {
      let policy: string | undefined;
      const needs = local.some((src) => {
        if (src.id === dst.id) return false;
        const v = a.engine.connection({ from: { endpoint: src.id }, to: { endpoint: dst.id }, port, protocol: 'TCP' }).verdict;
        if (!(v.allowed && v.authRequired) && v.auth?.denied !== true) return false;
        policy = v.auth?.policy ?? v.policy;
        return true;
      });
      if (needs) out.push({ srcIdentity: 0, dstIdentity: dstId, port, proto: PROTO.TCP, proxyIp: a.listen.ip, proxyPort: a.listen.port, policy });
    }
  }
  return out;
}
