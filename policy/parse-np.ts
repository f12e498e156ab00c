/**
 * Kubernetes NetworkPolicy -> one Cilium-equivalent Rule (policy-semantics §12): subject is
 * podSelector + policy namespace; each `from`/`to` element is its own entry; an empty or missing
 * peer list means every peer; policyTypes decide which directions are isolated.
 */
import { cidrContainsCidr, parseCidr } from './cidr.js';
import type { DocContext, FieldPath } from './doc-context.js';
import type { CidrPeer, DirectionRules, PeerMatcher, PortEntry, PortRule, Rule, RuleEntry } from './model.js';
import { parsePortValue, parseProtocol, parseEndPort } from './parse-ports.js';
import { parseSelector } from './parse-selector.js';
import { andSelector, namespaceIs, NAMESPACE_EXISTS, type Requirement } from './selector.js';
import { NS_LABELS_PREFIX } from './labels.js';

export function parseNetworkPolicy(ctx: DocContext, spec: unknown, namespace: string, policy: string): Rule | null {
  const m = ctx.map(spec, ['spec'], ['podSelector', 'policyTypes', 'ingress', 'egress']);
  if (!m) return null;
  if (m.podSelector === undefined) {
    ctx.error(['spec', 'podSelector'], 'is required');
    return null;
  }
  const pod = parseSelector(ctx, m.podSelector, ['spec', 'podSelector'], '', 'k8s');
  const types = ctx.list(m.policyTypes, ['spec', 'policyTypes']);
  let ok = pod !== null && types !== null;
  const pt = new Set<string>();
  (types ?? []).forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') {
      ctx.error(['spec', 'policyTypes', i], `must be Ingress or Egress, got ${JSON.stringify(t)}`);
      ok = false;
    } else pt.add(t);
  });
  const ingress = parseDirection(ctx, m.ingress, 'ingress', 'from', namespace);
  const egress = parseDirection(ctx, m.egress, 'egress', 'to', namespace);
  if (!ok || !pod || !ingress || !egress) return null;
  const inEnforced = ingress.length > 0 || pt.has('Ingress') || !pt.has('Egress');
  const egEnforced = egress.length > 0 || pt.has('Egress');
  const dir = (allow: RuleEntry[], enforced: boolean): DirectionRules => ({ enforced, defaultDeny: enforced, allow, deny: [] });
  return {
    policy,
    kind: 'NetworkPolicy',
    namespace,
    subject: andSelector(pod, [namespaceIs(namespace)]),
    ingress: dir(ingress, inEnforced),
    egress: dir(egress, egEnforced),
    source: { file: ctx.file, document: ctx.document },
  };
}

function parseDirection(ctx: DocContext, v: unknown, dir: 'ingress' | 'egress', peerKey: 'from' | 'to', namespace: string): RuleEntry[] | null {
  const list = ctx.list(v, ['spec', dir]);
  if (!list) return null;
  const out: RuleEntry[] = [];
  let ok = true;
  list.forEach((r, i) => {
    const path = ['spec', dir, i];
    const m = ctx.map(r, path, [peerKey, 'ports']);
    if (!m) return void (ok = false);
    const ports = parseNpPorts(ctx, m.ports, [...path, 'ports'], `${dir}[${i}]`);
    const peersRaw = ctx.list(m[peerKey], [...path, peerKey]);
    if (!peersRaw || ports === undefined) return void (ok = false);
    if (peersRaw.length === 0) {
      out.push({ peers: { kind: 'any' }, ports, icmps: null, auth: null, path: `${dir}[${i}]` });
      return;
    }
    peersRaw.forEach((p, j) => {
      const peers = parseNpPeer(ctx, p, [...path, peerKey, j], namespace);
      if (!peers) return void (ok = false);
      out.push({ peers, ports, icmps: null, auth: null, path: `${dir}[${i}].${peerKey}[${j}]` });
    });
  });
  return ok ? out : null;
}

function parseNpPeer(ctx: DocContext, v: unknown, path: FieldPath, namespace: string): PeerMatcher | null {
  const m = ctx.map(v, path, ['podSelector', 'namespaceSelector', 'ipBlock']);
  if (!m) return null;
  const has = (k: string): boolean => m[k] !== undefined && m[k] !== null;
  if (has('ipBlock')) {
    if (has('podSelector') || has('namespaceSelector')) {
      ctx.error(path, 'ipBlock cannot be combined with podSelector or namespaceSelector');
      return null;
    }
    const cidr = parseIpBlock(ctx, m.ipBlock, [...path, 'ipBlock']);
    return cidr ? { kind: 'cidrs', cidrs: [cidr] } : null;
  }
  if (!has('podSelector') && !has('namespaceSelector')) {
    ctx.error(path, 'one of podSelector, namespaceSelector or ipBlock is required');
    return null;
  }
  const reqs: Requirement[] = [];
  if (has('podSelector')) {
    const pod = parseSelector(ctx, m.podSelector, [...path, 'podSelector'], '', 'k8s');
    if (!pod) return null;
    reqs.push(...pod.reqs);
  }
  if (has('namespaceSelector')) {
    const ns = parseSelector(ctx, m.namespaceSelector, [...path, 'namespaceSelector'], NS_LABELS_PREFIX, 'k8s');
    if (!ns) return null;
    reqs.push(...ns.reqs, NAMESPACE_EXISTS);
  } else {
    reqs.push(namespaceIs(namespace));
  }
  return { kind: 'selectors', selectors: [andSelector({ reqs: [], text: '' }, reqs)] };
}

function parseIpBlock(ctx: DocContext, v: unknown, path: FieldPath): CidrPeer | null {
  const m = ctx.map(v, path, ['cidr', 'except']);
  if (!m) return null;
  const s = ctx.str(m.cidr, [...path, 'cidr']);
  if (s === null) return null;
  const cidr = parseCidr(s);
  if (!cidr || !s.includes('/')) {
    ctx.error([...path, 'cidr'], `invalid CIDR ${JSON.stringify(s)}`);
    return null;
  }
  const except = [];
  for (const [i, e] of (ctx.list(m.except, [...path, 'except']) ?? []).entries()) {
    const es = ctx.str(e, [...path, 'except', i]);
    const ec = es === null ? null : parseCidr(es);
    if (es !== null && !ec) ctx.error([...path, 'except', i], `invalid CIDR ${JSON.stringify(es)}`);
    if (!ec) return null;
    if (!cidrContainsCidr(cidr, ec)) {
      ctx.error([...path, 'except', i], `${JSON.stringify(es)} is not contained in cidr ${JSON.stringify(s)}`);
      return null;
    }
    except.push(ec);
  }
  return { cidr, except };
}

/** NP ports: protocol defaults to TCP; missing port = every port of that protocol. */
function parseNpPorts(ctx: DocContext, v: unknown, path: FieldPath, disp: string): PortRule[] | null | undefined {
  if (v === undefined || v === null) return null;
  const list = ctx.list(v, path);
  if (!list) return undefined;
  if (list.length === 0) return null;
  const ports: PortEntry[] = [];
  let ok = true;
  list.forEach((p, i) => {
    const pp = [...path, i];
    const m = ctx.map(p, pp, ['protocol', 'port', 'endPort']);
    if (!m) return void (ok = false);
    const proto = parseProtocol(ctx, m.protocol, [...pp, 'protocol'], 'TCP');
    if (proto === 'ANY' || proto === 'OTHER') {
      ctx.error([...pp, 'protocol'], `must be TCP, UDP or SCTP, got ${JSON.stringify(m.protocol)}`);
      return void (ok = false);
    }
    const pv = m.port === undefined || m.port === null ? { port: 0 } : parsePortValue(ctx, m.port, [...pp, 'port']);
    const end = parseEndPort(ctx, m.endPort, [...pp, 'endPort']);
    if (proto === null || pv === null || end === null) return void (ok = false);
    ports.push({ proto, port: pv.port, name: pv.name, endPort: end });
  });
  return ok ? [{ ports, l7: null, path: `${disp}.ports` }] : undefined;
}
