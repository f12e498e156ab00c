/**
 * Egress enforcement entries for tnd_tc_egress (docs/dns.md "Datapath"): for every source
 * endpoint and every destination of interest (other endpoints, plain `world`, each address the
 * DNS proxy learned), one `engine.connection()` per port decides the source's EGRESS side only
 * (the destination's ingress is enforced where it lives). Learned addresses get local identities
 * (Cilium's 1<<24 scope) in the ipcache, so `toFQDNs` verdicts land on exactly those addresses;
 * a never-learned address stays plain `world` (identity 2). `EgressSync` applies it incrementally
 * whenever the learned names change.
 */
import type { L4Protocol } from '../core/index.js';
import type { PeerRef, PolicyEngine } from '../policy/api.js';
import { PROTO, RESERVED_IDENTITY } from '../native/index.js';
import type { PolicyEntry, PolicyMapSync } from './policy-maps.js';
import type { DatapathEndpoint, PortSpec } from './resolve.js';

/** First local identity (Cilium: identities with bit 24 set are node-local CIDR/FQDN identities). */
export const FIRST_LOCAL_IDENTITY = 1 << 24;

export interface EgressDestination {
  ref: PeerRef;
  identity: number;
}

export interface EgressOptions {
  /** Always allowed, before policy (the DNS proxy's own address when pods query it explicitly). */
  alwaysAllow?: readonly { identity: number; port: number; proto: number }[];
}

/** Per source endpoint id: egress enforced? and its entries (keyed by destination identity). */
export function resolveEgress(
  engine: PolicyEngine,
  endpoints: readonly DatapathEndpoint[],
  extra: readonly EgressDestination[],
  ports: readonly PortSpec[],
  opts: EgressOptions = {},
): Map<number, { enforce: boolean; entries: PolicyEntry[] }> {
  const dests: EgressDestination[] = [
    ...endpoints.map((e) => ({ ref: { endpoint: e.name }, identity: e.identity })),
    { ref: { entity: 'world' }, identity: RESERVED_IDENTITY.WORLD },
    ...extra,
  ];
  const out = new Map<number, { enforce: boolean; entries: PolicyEntry[] }>();
  for (const src of endpoints) {
    const entries: PolicyEntry[] = [];
    let enforce = false;
    for (const dst of dests) {
      if ('endpoint' in dst.ref && dst.ref.endpoint === src.name) continue;
      for (const p of ports) {
        const v = engine.connection({ from: { endpoint: src.name }, to: dst.ref, port: p.port, protocol: p.protocol as L4Protocol }).verdict;
        const side = v.egress;
        if (!side || !side.enforced) continue;
        enforce = true;
        const proto = PROTO[p.protocol];
        // An egress rule that requires mutual authentication: nothing authenticates at L4, tc drops (AUTH_REQUIRED).
        const auth = v.authRequired && v.auth?.side === 'egress';
        if (side.verdict === 'allowed') entries.push({ identity: dst.identity, port: p.port, proto, verdict: auth ? 'auth' : 'allow', policy: side.policy });
        else if (side.policy) entries.push({ identity: dst.identity, port: p.port, proto, verdict: 'deny', policy: side.policy });
      }
    }
    if (enforce) for (const a of opts.alwaysAllow ?? []) entries.unshift({ identity: a.identity, port: a.port, proto: a.proto, verdict: 'allow' });
    out.set(src.epId, { enforce, entries: enforce ? dedupe(entries) : [] });
  }
  return out;
}

function dedupe(entries: PolicyEntry[]): PolicyEntry[] {
  const seen = new Map<string, PolicyEntry>();
  for (const e of entries) {
    const k = `${e.identity}/${e.port}/${e.proto}`;
    const prev = seen.get(k);
    // An allow for the same key wins over a deny from another name sharing the identity slot.
    if (!prev || (prev.verdict === 'deny' && e.verdict === 'allow')) seen.set(k, e);
  }
  return [...seen.values()];
}

/** Stable local identities for learned addresses: kept while the address is learned. */
export class FqdnIdentities {
  private readonly byIp = new Map<string, number>();
  private next = FIRST_LOCAL_IDENTITY + 1;

  /** Identities for exactly `ips`: new ones allocated, departed ones returned in `removed`. */
  update(ips: Iterable<string>): { current: Map<string, number>; removed: string[] } {
    const want = new Set(ips);
    const removed: string[] = [];
    for (const ip of this.byIp.keys()) {
      if (!want.has(ip)) {
        this.byIp.delete(ip);
        removed.push(ip);
      }
    }
    for (const ip of want) if (!this.byIp.has(ip)) this.byIp.set(ip, this.next++);
    return { current: new Map(this.byIp), removed };
  }
}

/**
 * Keeps the ipcache and the egress entries of `endpoints` in step with the learned names:
 * call `apply(engine, learned)` after every change of the FQDN cache (and once at start).
 * Only differences are written (PolicyMapSync diffs every setter).
 */
export class EgressSync {
  private readonly ids = new FqdnIdentities();

  constructor(
    private readonly maps: PolicyMapSync,
    private readonly endpoints: readonly DatapathEndpoint[],
    private readonly ports: readonly PortSpec[],
    private readonly opts: EgressOptions & { enforceIngress?: (ep: DatapathEndpoint) => boolean } = {},
  ) {}

  apply(engine: PolicyEngine, learned: ReadonlyMap<string, readonly string[]>): void {
    const ips = new Set<string>();
    for (const list of learned.values()) for (const ip of list) if (!ip.includes(':')) ips.add(ip);
    const { current, removed } = this.ids.update(ips);
    // New identities first (entries referring to them are harmless before), then entries, then
    // withdrawn addresses leave the ipcache (they fall back to world: new flows drop).
    for (const [ip, id] of current) this.maps.setIdentity(ip, id);
    const extra = [...current].map(([ip, identity]) => ({ ref: { ip }, identity }));
    const res = resolveEgress(engine, this.endpoints, extra, this.ports, this.opts);
    for (const ep of this.endpoints) {
      const r = res.get(ep.epId)!;
      this.maps.setEndpoint(ep.ip, { epId: ep.epId, identity: ep.identity, enforceIngress: this.opts.enforceIngress?.(ep) ?? false, enforceEgress: r.enforce });
      this.maps.setEndpointEgressPolicy(ep.epId, r.entries);
    }
    for (const ip of removed) this.maps.removeIdentity(ip);
  }
}
