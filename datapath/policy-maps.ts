/**
 * Identity, endpoint, L3/L4 policy and L7-redirect map sync. Every setter diffs against what it
 * installed before and writes only the difference (no full rewrite per change).
 *
 * Policy ids: flows name the deciding policy; the BPF side only carries a u32, so names are
 * interned here (`policyName(id)` turns a drop event back into `namespace/name`).
 */
import type { PolicyKey, PolicyVal, RedirectKey, RedirectVal } from '../native/index.js';
import type { MapSource } from './map-source.js';
import { cgroupId, EP_FLAGS, POLICY_EGRESS } from '../native/index.js';

export interface PolicyEntry {
  /** Peer identity (0 = any). */
  identity: number;
  /** Destination port (0 = any). */
  port: number;
  /** 6 TCP, 17 UDP, 0 any. */
  proto: number;
  /** `auth`: allowed once the pair is authenticated; tc drops it with AUTH_REQUIRED (docs/datapath.md). */
  verdict: 'allow' | 'deny' | 'redirect' | 'auth';
  /** `namespace/name` of the deciding policy. */
  policy?: string;
  proxyPort?: number;
}

export interface RedirectEntry {
  srcIdentity: number;
  dstIdentity: number;
  port: number;
  proto: number;
  proxyIp: string;
  proxyPort: number;
  policy?: string;
}

const VERDICT_NUM = { allow: 1, deny: 2, redirect: 3, auth: 4 } as const;

export class PolicyIds {
  private readonly byName = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  id(name: string | undefined): number {
    if (!name) return 0;
    let id = this.byName.get(name);
    if (id === undefined) {
      id = this.byName.size + 1;
      this.byName.set(name, id);
      this.byId.set(id, name);
    }
    return id;
  }
  name(id: number): string | undefined {
    return this.byId.get(id);
  }
}

export class PolicyMapSync {
  readonly ids = new PolicyIds();
  private readonly ipIdentity = new Map<string, number>();
  private readonly cgIdentity = new Map<bigint, number>();
  private readonly endpoints = new Map<string, { epId: number; identity: number; flags: number }>();
  private readonly policy = new Map<number, Map<string, { key: PolicyKey; val: PolicyVal }>>();
  private redirects = new Map<string, { key: RedirectKey; val: RedirectVal }>();
  writes = 0;

  constructor(private readonly obj: MapSource) {}

  setIdentity(ip: string, identity: number): void {
    if (this.ipIdentity.get(ip) === identity) return;
    this.obj.map('tendril_ipcache').set(ip, { identity, flags: 0 });
    this.ipIdentity.set(ip, identity);
    this.writes++;
  }

  removeIdentity(ip: string): void {
    if (!this.ipIdentity.delete(ip)) return;
    this.obj.map('tendril_ipcache').delete(ip);
    this.writes++;
  }

  identityOf(ip: string): number | undefined {
    return this.ipIdentity.get(ip);
  }

  /** Gives every process in a (pod) cgroup a source identity for the connect-time redirect lookup. */
  setCgroupIdentity(cgroupDir: string, identity: number): void {
    const id = cgroupId(cgroupDir);
    if (this.cgIdentity.get(id) === identity) return;
    this.obj.map('tendril_cgid').set(id, { identity, flags: 0 });
    this.cgIdentity.set(id, identity);
    this.writes++;
  }

  setEndpoint(ip: string, ep: { epId: number; identity: number; enforceIngress: boolean; enforceEgress?: boolean }): void {
    const flags = (ep.enforceIngress ? EP_FLAGS.ENFORCE_INGRESS : 0) | (ep.enforceEgress ? EP_FLAGS.ENFORCE_EGRESS : 0);
    const cur = this.endpoints.get(ip);
    if (cur && cur.epId === ep.epId && cur.identity === ep.identity && cur.flags === flags) return;
    this.obj.map('tendril_endpoint').set(ip, { epId: ep.epId, identity: ep.identity, flags });
    this.endpoints.set(ip, { epId: ep.epId, identity: ep.identity, flags });
    this.writes++;
  }

  /** Replaces one endpoint's EGRESS policy (destination identities), keyed epId + POLICY_EGRESS. */
  setEndpointEgressPolicy(epId: number, entries: PolicyEntry[]): void {
    this.setEndpointPolicy(epId + POLICY_EGRESS, entries);
  }

  removeEndpoint(ip: string): void {
    const cur = this.endpoints.get(ip);
    if (!cur) return;
    this.setEndpointPolicy(cur.epId, []);
    this.setEndpointEgressPolicy(cur.epId, []);
    this.obj.map('tendril_endpoint').delete(ip);
    this.endpoints.delete(ip);
    this.writes++;
  }

  /** Replaces one endpoint's policy with `entries`, writing only added/changed/removed keys. */
  setEndpointPolicy(epId: number, entries: PolicyEntry[]): void {
    const m = this.obj.map('tendril_policy');
    const cur = this.policy.get(epId) ?? new Map<string, { key: PolicyKey; val: PolicyVal }>();
    const next = new Map<string, { key: PolicyKey; val: PolicyVal }>();
    for (const e of entries) {
      const key: PolicyKey = { epId, identity: e.identity, port: e.port, proto: e.proto };
      const val: PolicyVal = { verdict: VERDICT_NUM[e.verdict], proxyPort: e.proxyPort ?? 0, policyId: this.ids.id(e.policy) };
      next.set(`${e.identity}/${e.port}/${e.proto}`, { key, val });
    }
    for (const [k, v] of next) {
      const old = cur.get(k);
      if (old && old.val.verdict === v.val.verdict && old.val.proxyPort === v.val.proxyPort && old.val.policyId === v.val.policyId) continue;
      m.set(v.key, v.val);
      this.writes++;
    }
    for (const [k, v] of cur) {
      if (next.has(k)) continue;
      m.delete(v.key);
      this.writes++;
    }
    if (next.size) this.policy.set(epId, next);
    else this.policy.delete(epId);
  }

  /** Replaces the L7 redirect table (connect4 sends matching sockets to the proxy). */
  setRedirects(entries: RedirectEntry[]): void {
    const m = this.obj.map('tendril_redirect');
    const next = new Map<string, { key: RedirectKey; val: RedirectVal }>();
    for (const e of entries) {
      const key: RedirectKey = { srcIdentity: e.srcIdentity, dstIdentity: e.dstIdentity, port: e.port, proto: e.proto };
      const val: RedirectVal = { proxyIp: e.proxyIp, proxyPort: e.proxyPort, policyId: this.ids.id(e.policy) };
      next.set(`${e.srcIdentity}/${e.dstIdentity}/${e.port}/${e.proto}`, { key, val });
    }
    for (const [k, v] of next) {
      const old = this.redirects.get(k);
      if (old && old.val.proxyIp === v.val.proxyIp && old.val.proxyPort === v.val.proxyPort && old.val.policyId === v.val.policyId) continue;
      m.set(v.key, v.val);
      this.writes++;
    }
    for (const [k, v] of this.redirects) {
      if (next.has(k)) continue;
      m.delete(v.key);
      this.writes++;
    }
    this.redirects = next;
  }
}
