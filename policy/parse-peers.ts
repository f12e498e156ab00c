/** Parses the peer families of a CNP/CCNP rule entry (policy-semantics §1.2, §1.3, §5). */
import { cidrContainsCidr, parseCidr } from './cidr.js';
import type { DocContext, FieldPath } from './doc-context.js';
import type { CidrPeer, PeerMatcher, ServiceRef } from './model.js';
import { parseNameSelector } from './parse-l7.js';
import { parseSelector } from './parse-selector.js';
import { scopePeerSelector, type Selector } from './selector.js';

export const ENTITIES = [
  'host', 'remote-node', 'kube-apiserver', 'ingress', 'health', 'init', 'unmanaged',
  'cluster', 'world', 'world-ipv4', 'world-ipv6', 'all', 'none',
] as const;

export const INGRESS_PEERS = ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromNodes', 'fromGroups'] as const;
export const EGRESS_PEERS = ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toNodes', 'toGroups', 'toFQDNs'] as const;

/**
 * Returns the entry's peer matcher. `namespace` is the CNP namespace (null for a CCNP);
 * `hasPorts` says whether the entry has toPorts/icmps (a peer-less entry with ports = any peer).
 */
export function parsePeers(
  ctx: DocContext,
  m: Record<string, unknown>,
  path: FieldPath,
  families: readonly string[],
  namespace: string | null,
  hasPorts: boolean,
): PeerMatcher | null {
  const present = families.filter((f) => m[f] !== undefined && m[f] !== null);
  const nonEmpty = present.filter((f) => !Array.isArray(m[f]) || (m[f] as unknown[]).length > 0);
  if (nonEmpty.length > 1) {
    ctx.error(path, `combining ${nonEmpty.join(' and ')} in one rule is not supported; use separate rules`);
    return null;
  }
  for (const req of ['fromRequires', 'toRequires']) {
    if (m[req] !== undefined) {
      ctx.error([...path, req], `${req} was removed in Cilium 1.19; not supported`);
      return null;
    }
  }
  if (present.length === 0) return hasPorts ? { kind: 'any' } : { kind: 'none' };
  // Validate every present (possibly empty) family, use the non-empty one.
  let result: PeerMatcher | null = { kind: 'none' };
  for (const f of present) {
    const p = [...path, f];
    const list = ctx.list(m[f], p);
    if (!list) return null;
    const parsed = parseFamily(ctx, f, list, p, namespace);
    if (parsed === null) result = null;
    else if (list.length > 0 && result !== null) result = parsed;
  }
  return result;
}

function parseFamily(ctx: DocContext, family: string, list: unknown[], path: FieldPath, namespace: string | null): PeerMatcher | null {
  let ok = true;
  switch (family) {
    case 'fromEndpoints':
    case 'toEndpoints': {
      const selectors: Selector[] = [];
      list.forEach((s, i) => {
        const sel = parseSelector(ctx, s, [...path, i]);
        if (sel) selectors.push(scopePeerSelector(sel, namespace));
        else ok = false;
      });
      return ok ? { kind: 'selectors', selectors } : null;
    }
    case 'fromEntities':
    case 'toEntities': {
      const entities: string[] = [];
      list.forEach((e, i) => {
        const s = ctx.str(e, [...path, i]);
        if (s === null) return void (ok = false);
        if (!(ENTITIES as readonly string[]).includes(s)) {
          ctx.error([...path, i], `unknown entity ${JSON.stringify(s)} (known: ${ENTITIES.join(', ')})`);
          return void (ok = false);
        }
        entities.push(s);
      });
      return ok ? { kind: 'entities', entities } : null;
    }
    case 'fromCIDR':
    case 'toCIDR': {
      const cidrs: CidrPeer[] = [];
      list.forEach((c, i) => {
        const s = ctx.str(c, [...path, i]);
        const parsed = s === null ? null : parseCidr(s);
        if (s !== null && !parsed) ctx.error([...path, i], `invalid CIDR ${JSON.stringify(s)}`);
        if (!parsed) return void (ok = false);
        cidrs.push({ cidr: parsed, except: [] });
      });
      return ok ? { kind: 'cidrs', cidrs } : null;
    }
    case 'fromCIDRSet':
    case 'toCIDRSet': {
      const cidrs: CidrPeer[] = [];
      list.forEach((c, i) => {
        const peer = parseCidrSet(ctx, c, [...path, i]);
        if (peer === null) ok = false;
        else if (peer !== 'group') cidrs.push(peer);
      });
      return ok ? { kind: 'cidrs', cidrs } : null;
    }
    case 'toFQDNs': {
      const matchers: ((n: string) => boolean)[] = [];
      const texts: string[] = [];
      list.forEach((f, i) => {
        const mt = parseNameSelector(ctx, f, [...path, i]);
        if (mt) {
          matchers.push(mt);
          const m = f as Record<string, string>;
          texts.push(m.matchName ? `name ${m.matchName}` : `pattern ${m.matchPattern}`);
        } else ok = false;
      });
      return ok ? { kind: 'fqdns', matchers, texts } : null;
    }
    case 'fromNodes':
    case 'toNodes': {
      // D2/D4: evaluated as Cilium with enable-node-selector-labels on; keys keep their source
      // (source-less = any:), only remote nodes match (match-peer.ts).
      const selectors: Selector[] = [];
      list.forEach((s, i) => {
        const sel = parseSelector(ctx, s, [...path, i]);
        if (sel) selectors.push(sel);
        else ok = false;
      });
      return ok ? { kind: 'nodes', selectors } : null;
    }
    case 'toServices': {
      const refs: ServiceRef[] = [];
      list.forEach((s, i) => {
        const ref = parseServiceRef(ctx, s, [...path, i]);
        if (ref) refs.push(ref);
        else ok = false;
      });
      return ok ? { kind: 'services', refs } : null;
    }
    default:
      // fromGroups/toGroups select cloud-provider groups (AWS security groups), which Tendril
      // cannot resolve: refused rather than accepted and shown as enforced (docs/policy.md).
      ctx.error(path, `${family} (cloud provider groups) is not supported by Tendril; use toCIDRSet or toFQDNs for those addresses`);
      return null;
  }
}

/** `k8sService: {serviceName, namespace}` or `k8sServiceSelector: {selector, namespace}` (S2). */
function parseServiceRef(ctx: DocContext, v: unknown, path: FieldPath): ServiceRef | null {
  const m = ctx.map(v, path, ['k8sService', 'k8sServiceSelector']);
  if (!m) return null;
  const has = (['k8sService', 'k8sServiceSelector'] as const).filter((k) => m[k] !== undefined && m[k] !== null);
  if (has.length !== 1) {
    ctx.error(path, 'needs exactly one of k8sService, k8sServiceSelector');
    return null;
  }
  const namespaceOf = (x: Record<string, unknown>, p: FieldPath): string | null | false => {
    if (x.namespace === undefined || x.namespace === null || x.namespace === '') return null;
    const ns = ctx.str(x.namespace, [...p, 'namespace']);
    return ns === null ? false : ns;
  };
  if (has[0] === 'k8sService') {
    const p = [...path, 'k8sService'];
    const x = ctx.map(m.k8sService, p, ['serviceName', 'namespace']);
    if (!x) return null;
    const name = ctx.str(x.serviceName, [...p, 'serviceName']);
    const namespace = namespaceOf(x, p);
    if (name === null || namespace === false) return null;
    return { by: 'name', name, namespace };
  }
  const p = [...path, 'k8sServiceSelector'];
  const x = ctx.map(m.k8sServiceSelector, p, ['selector', 'namespace']);
  if (!x) return null;
  if (x.selector === undefined || x.selector === null) {
    ctx.error([...p, 'selector'], 'is required');
    return null;
  }
  const selector = parseSelector(ctx, x.selector, [...p, 'selector'], '', 'k8s');
  const namespace = namespaceOf(x, p);
  if (!selector || namespace === false) return null;
  return { by: 'selector', selector, namespace };
}

function parseCidrSet(ctx: DocContext, v: unknown, path: FieldPath): CidrPeer | 'group' | null {
  const m = ctx.map(v, path, ['cidr', 'except', 'cidrGroupRef', 'cidrGroupSelector']);
  if (!m) return null;
  if (m.cidr === undefined || m.cidr === null) {
    if (m.cidrGroupRef !== undefined || m.cidrGroupSelector !== undefined) return 'group';
    ctx.error([...path, 'cidr'], 'is required');
    return null;
  }
  const s = ctx.str(m.cidr, [...path, 'cidr']);
  if (s === null) return null;
  const cidr = parseCidr(s);
  if (!cidr) {
    ctx.error([...path, 'cidr'], `invalid CIDR ${JSON.stringify(s)}`);
    return null;
  }
  const except = [];
  let ok = true;
  for (const [i, e] of (ctx.list(m.except, [...path, 'except']) ?? []).entries()) {
    const es = ctx.str(e, [...path, 'except', i]);
    const ec = es === null ? null : parseCidr(es);
    if (es !== null && !ec) ctx.error([...path, 'except', i], `invalid CIDR ${JSON.stringify(es)}`);
    else if (ec && !cidrContainsCidr(cidr, ec)) {
      ctx.error([...path, 'except', i], `${JSON.stringify(es)} is not contained in cidr ${JSON.stringify(s)}`);
      ok = false;
    }
    if (!ec) ok = false;
    else except.push(ec);
  }
  return ok ? { cidr, except } : null;
}
