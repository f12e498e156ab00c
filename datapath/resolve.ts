/**
 * Turns the policy engine's resolution into datapath entries: for every managed destination
 * endpoint, every source (other endpoints, plus `world`) and every port of interest, one
 * `engine.connection()` query decides allow / deny / L7 redirect. Pure: no maps are touched here.
 *
 * Semantics: an endpoint is enforced (default deny at tc ingress) when some query against it was
 * denied; a denial that names a policy becomes an explicit deny entry (drop reason 181, the policy
 * id in the event); a default-deny has no entry (miss -> drop reason 133). Traffic that a rule
 * allows only after mutual authentication becomes an `auth` entry (drop reason 189,
 * AUTH_REQUIRED, naming the rule's policy) unless its port is redirected to the L7 proxy, which
 * denies it per request. Ports not listed in
 * `ports` are denied on enforced endpoints: pass every port the policies and world mention.
 */
import type { L4Protocol } from '../core/index.js';
import type { PolicyEngine, PeerRef } from '../policy/api.js';
import type { PolicyEntry, RedirectEntry } from './policy-maps.js';
import { RESERVED_IDENTITY, PROTO } from '../native/index.js';

export interface DatapathEndpoint {
  /** `namespace/pod` as the engine names it. */
  name: string;
  ip: string;
  identity: number;
  epId: number;
}

export interface PortSpec {
  port: number;
  protocol: 'TCP' | 'UDP';
}

export interface ResolvedPolicy {
  /** Per destination endpoint id: enforce flag and entries. */
  endpoints: Map<number, { enforce: boolean; entries: PolicyEntry[] }>;
  redirects: RedirectEntry[];
}

export interface ResolveOptions {
  /** Where the proxy listens for an L7 (destination, port): its address must be reachable from the pods. */
  proxyFor(dst: DatapathEndpoint, port: PortSpec): { ip: string; port: number } | null;
  /** Include `world` (identity 2) as a source. Default true. */
  includeWorld?: boolean;
}

export function resolvePolicy(
  engine: PolicyEngine,
  endpoints: readonly DatapathEndpoint[],
  ports: readonly PortSpec[],
  opts: ResolveOptions,
): ResolvedPolicy {
  const sources: Array<{ ref: PeerRef; identity: number }> = endpoints.map((e) => ({ ref: { endpoint: e.name }, identity: e.identity }));
  if (opts.includeWorld !== false) sources.push({ ref: { entity: 'world' }, identity: RESERVED_IDENTITY.WORLD });
  const out: ResolvedPolicy = { endpoints: new Map(), redirects: [] };
  for (const dst of endpoints) {
    const entries: PolicyEntry[] = [];
    let enforce = false;
    for (const src of sources) {
      if (src.identity === dst.identity && 'endpoint' in src.ref && src.ref.endpoint === dst.name) continue;
      for (const p of ports) {
        const v = engine.connection({ from: src.ref, to: { endpoint: dst.name }, port: p.port, protocol: p.protocol as L4Protocol }).verdict;
        const proto = PROTO[p.protocol];
        if (v.auth?.denied || (v.allowed && v.authRequired && !(v.l7 && p.protocol === 'TCP' && opts.proxyFor(dst, p)))) {
          // Mutual authentication is required and nothing authenticates a pair at L4: tc drops it
          // with AUTH_REQUIRED. An L7 port stays redirected: the proxy answers 403 per request.
          enforce = true;
          entries.push({ identity: src.identity, port: p.port, proto, verdict: 'auth', policy: v.auth?.policy ?? v.policy });
          continue;
        }
        if (!v.allowed) {
          enforce = true;
          if (v.policy) entries.push({ identity: src.identity, port: p.port, proto, verdict: 'deny', policy: v.policy });
          continue;
        }
        if (v.l7 && p.protocol === 'TCP') {
          const proxy = opts.proxyFor(dst, p);
          if (proxy) {
            entries.push({ identity: src.identity, port: p.port, proto, verdict: 'redirect', policy: v.policy, proxyPort: proxy.port });
            out.redirects.push({
              srcIdentity: src.identity, dstIdentity: dst.identity, port: p.port, proto, proxyIp: proxy.ip, proxyPort: proxy.port, policy: v.policy,
            });
            continue;
          }
        }
        entries.push({ identity: src.identity, port: p.port, proto, verdict: 'allow', policy: v.policy });
      }
    }
    out.endpoints.set(dst.epId, { enforce, entries: enforce ? entries : [] });
  }
  return out;
}
