/**
 * CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy documents -> Rules
 * (policy-semantics §1, §3.1, §4.2, §6, §7, §13), with Cilium's rule validation (§1.3).
 */
import type { DocContext, FieldPath } from './doc-context.js';
import { formatPath } from './doc-context.js';
import type { AuthMode, DirectionRules, IcmpField, PolicyKind, PortEntry, PortRule, Rule, RuleEntry } from './model.js';
import { parseL7 } from './parse-l7.js';
import { EGRESS_PEERS, INGRESS_PEERS, parsePeers } from './parse-peers.js';
import { parseCiliumPort } from './parse-ports.js';
import { parseSelector } from './parse-selector.js';
import { andSelector, makeSelector, namespaceIs, type Selector } from './selector.js';
import { NS_LABEL, parseSelectorKey } from './labels.js';
import { icmpType } from './icmp.js';

const RULE_FIELDS = ['endpointSelector', 'nodeSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny', 'enableDefaultDeny', 'labels', 'description', 'log'];
const COMMON_ENTRY = ['toPorts', 'icmps'];
const AUTH_MODES: readonly AuthMode[] = ['required', 'disabled', 'test-always-fail'];
const REQUIRES = ['fromRequires', 'toRequires'];

type Section = 'ingress' | 'ingressDeny' | 'egress' | 'egressDeny';

interface Scope {
  kind: PolicyKind;
  namespace: string | null;
  policy: string;
  isHost: boolean;
}

/** Parses one rule body (`spec` or `specs[i]`) at `path`. */
export function parseCiliumRule(ctx: DocContext, v: unknown, path: FieldPath, kind: PolicyKind, namespace: string | null, policy: string): Rule | null {
  const m = ctx.map(v, path, RULE_FIELDS);
  if (!m) return null;
  const hasEp = m.endpointSelector !== undefined && m.endpointSelector !== null;
  const hasNode = m.nodeSelector !== undefined && m.nodeSelector !== null;
  if (hasEp === hasNode) {
    ctx.error(path, hasEp ? 'endpointSelector and nodeSelector are mutually exclusive' : 'one of endpointSelector or nodeSelector is required');
    return null;
  }
  if (hasNode && kind === 'CiliumNetworkPolicy') {
    ctx.error([...path, 'nodeSelector'], 'is only allowed in a CiliumClusterwideNetworkPolicy');
    return null;
  }
  const selPath = [...path, hasEp ? 'endpointSelector' : 'nodeSelector'];
  const sel = parseSelector(ctx, hasEp ? m.endpointSelector : m.nodeSelector, selPath);
  const isEmpty = (k: string): boolean => m[k] === undefined || m[k] === null || (Array.isArray(m[k]) && (m[k] as unknown[]).length === 0);
  if (['ingress', 'ingressDeny', 'egress', 'egressDeny'].every(isEmpty)) {
    ctx.error(path, 'a rule needs at least one of ingress, ingressDeny, egress, egressDeny');
    return null;
  }
  let dd: { ingress?: boolean; egress?: boolean } = {};
  if (m.enableDefaultDeny !== undefined && m.enableDefaultDeny !== null) {
    const d = ctx.map(m.enableDefaultDeny, [...path, 'enableDefaultDeny'], ['ingress', 'egress']);
    if (!d) return null;
    for (const dir of ['ingress', 'egress'] as const) {
      if (d[dir] !== undefined && d[dir] !== null) {
        const b = ctx.bool(d[dir], [...path, 'enableDefaultDeny', dir]);
        if (b === null) return null;
        dd[dir] = b;
      }
    }
  }
  if (m.labels !== undefined) ctx.list(m.labels, [...path, 'labels']);
  if (m.description !== undefined) ctx.str(m.description, [...path, 'description']);
  const scope: Scope = { kind, namespace, policy, isHost: hasNode };
  const prefix = path[0] === 'spec' ? path.slice(1) : path;
  const sections: Partial<Record<Section, RuleEntry[] | null>> = {};
  for (const s of ['ingress', 'ingressDeny', 'egress', 'egressDeny'] as const) {
    sections[s] = parseSection(ctx, m[s], [...path, s], [...prefix, s], s, scope);
  }
  if (!sel || Object.values(sections).some((x) => x === null)) return null;
  const dir = (allow: Section, deny: Section, flag: boolean | undefined): DirectionRules => {
    const a = sections[allow] ?? [];
    const d = sections[deny] ?? [];
    const enforced = a.length > 0 || d.length > 0;
    return { enforced, defaultDeny: enforced && (flag ?? true), allow: a, deny: d };
  };
  const subject = hasNode ? null : namespace !== null ? scopeCnpSubject(sel, m.endpointSelector, namespace) : sel;
  return {
    policy,
    kind,
    namespace,
    subject,
    ingress: dir('ingress', 'ingressDeny', dd.ingress),
    egress: dir('egress', 'egressDeny', dd.egress),
    source: { file: ctx.file, document: ctx.document },
  };
}

/**
 * §3.1: a CNP subject always gets `k8s:io.kubernetes.pod.namespace=<policy namespace>`. Cilium
 * writes it into matchLabels (`EndpointSelector.AddMatch`), so a user's own
 * `k8s:io.kubernetes.pod.namespace` matchLabels entry is overridden ("removing illegal namespace
 * match"), while an unprefixed (`any:`) key or a matchExpressions entry stays and is ANDed.
 */
function scopeCnpSubject(sel: Selector, raw: unknown, namespace: string): Selector {
  const ml = raw !== null && typeof raw === 'object' ? (raw as { matchLabels?: unknown }).matchLabels : undefined;
  const labelKeys = ml !== null && typeof ml === 'object' ? Object.keys(ml) : [];
  const overridden = (i: number): boolean => {
    if (i >= labelKeys.length) return false;
    const { source, key } = parseSelectorKey(labelKeys[i]);
    return source === 'k8s' && key === NS_LABEL;
  };
  const kept = sel.reqs.filter((_, i) => !overridden(i));
  const base = kept.length === sel.reqs.length ? sel : makeSelector([...kept]);
  return andSelector(base, [namespaceIs(namespace)]);
}

function parseSection(ctx: DocContext, v: unknown, path: FieldPath, disp: FieldPath, section: Section, scope: Scope): RuleEntry[] | null {
  if (v === undefined || v === null) return [];
  const list = ctx.list(v, path);
  if (!list) return null;
  const isDeny = section.endsWith('Deny');
  const isIngress = section.startsWith('ingress');
  const peers = isIngress ? INGRESS_PEERS : EGRESS_PEERS.filter((p) => !(isDeny && p === 'toFQDNs'));
  const allowed = [...peers, ...COMMON_ENTRY, ...REQUIRES, ...(isDeny ? [] : ['authentication'])];
  const out: RuleEntry[] = [];
  let ok = true;
  list.forEach((e, i) => {
    const entry = parseEntry(ctx, e, [...path, i], formatPath([...disp, i]), allowed, peers, isDeny, isIngress, scope);
    if (entry) out.push(entry);
    else ok = false;
  });
  return ok ? out : null;
}

function parseEntry(
  ctx: DocContext,
  v: unknown,
  path: FieldPath,
  disp: string,
  allowed: readonly string[],
  peerFields: readonly string[],
  isDeny: boolean,
  isIngress: boolean,
  scope: Scope,
): RuleEntry | null {
  const m = ctx.map(v, path, allowed);
  if (!m) return null;
  const hasToPorts = m.toPorts !== undefined && m.toPorts !== null;
  const hasIcmps = m.icmps !== undefined && m.icmps !== null;
  if (hasToPorts && hasIcmps) {
    ctx.error(path, 'icmps and toPorts cannot be combined in one rule');
    return null;
  }
  let peers = parsePeers(ctx, m, path, peerFields, scope.kind === 'CiliumNetworkPolicy' ? scope.namespace : null, hasToPorts || hasIcmps);
  // S1: Cilium translates toServices in egress rules only; in egressDeny it selects nothing.
  if (isDeny && peers?.kind === 'services') peers = { kind: 'none' };
  let ports: PortRule[] | null = null;
  if (hasToPorts) {
    const list = ctx.list(m.toPorts, [...path, 'toPorts']);
    if (!list) return null;
    const parsed: PortRule[] = [];
    let ok = true;
    list.forEach((tp, i) => {
      const pr = parseToPorts(ctx, tp, [...path, 'toPorts', i], `${disp}.toPorts[${i}]`, isDeny, isIngress, scope);
      if (pr) parsed.push(pr);
      else ok = false;
    });
    if (!ok) return null;
    ports = parsed.length > 0 ? parsed : null;
  }
  let icmps: IcmpField[] | null = null;
  if (hasIcmps) {
    icmps = parseIcmps(ctx, m.icmps, [...path, 'icmps']);
    if (!icmps) return null;
  }
  let auth: AuthMode | null = null;
  if (m.authentication !== undefined && m.authentication !== null) {
    const a = ctx.map(m.authentication, [...path, 'authentication'], ['mode']);
    if (!a) return null;
    const mode = ctx.str(a.mode, [...path, 'authentication', 'mode']);
    if (mode === null) return null;
    if (!AUTH_MODES.includes(mode as AuthMode)) {
      ctx.error([...path, 'authentication', 'mode'], `must be one of ${AUTH_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
      return null;
    }
    auth = mode as AuthMode;
  }
  if (!peers) return null;
  return { peers, ports, icmps, auth, path: disp };
}

function parseToPorts(ctx: DocContext, v: unknown, path: FieldPath, disp: string, isDeny: boolean, isIngress: boolean, scope: Scope): PortRule | null {
  const fields = isDeny ? ['ports'] : ['ports', 'rules', 'terminatingTLS', 'originatingTLS', 'serverNames', 'listener'];
  const m = ctx.map(v, path, fields);
  if (!m) return null;
  const list = ctx.list(m.ports, [...path, 'ports']);
  if (!list) return null;
  if (list.length > 40) {
    ctx.error([...path, 'ports'], `at most 40 ports per toPorts entry, got ${list.length}`);
    return null;
  }
  const ports: PortEntry[] = [];
  let ok = true;
  list.forEach((p, i) => {
    const e = parseCiliumPort(ctx, p, [...path, 'ports', i]);
    if (e) ports.push(e);
    else ok = false;
  });
  if (!ok) return null;
  if (m.rules === undefined || m.rules === null) {
    return { ports: ports.length > 0 ? ports : [{ proto: 'ANY', port: 0, endPort: 0 }], l7: null, path: disp };
  }
  const l7 = parseL7(ctx, m.rules, [...path, 'rules'], disp);
  if (l7 === null) return null;
  if (l7 === undefined) return { ports, l7: null, path: disp };
  const rp = [...path, 'rules', l7.kind];
  if (l7.kind === 'dns') {
    if (isIngress) return fail(ctx, rp, 'DNS rules are only allowed on egress');
    if (ports.length === 0) return fail(ctx, [...path, 'ports'], 'DNS rules require at least one port');
    const ranged = ports.findIndex((p) => p.endPort > 0);
    if (ranged >= 0) return fail(ctx, [...path, 'ports', ranged, 'endPort'], 'DNS rules do not support port ranges');
  } else {
    if (scope.isHost) return fail(ctx, rp, 'HTTP/Kafka rules are not allowed in a host policy (nodeSelector)');
    const bad = ports.findIndex((p) => p.proto !== 'TCP');
    if (bad >= 0) return fail(ctx, [...path, 'ports', bad, 'protocol'], `L7 rules can only apply to TCP (not ${ports[bad].proto === 'ANY' ? 'ANY, the default when protocol is omitted' : ports[bad].proto}) except for DNS rules`);
  }
  const zero = ports.findIndex((p) => p.port === 0);
  if (zero >= 0) return fail(ctx, [...path, 'ports', zero, 'port'], 'L7 rules cannot apply to port "0" (all ports)');
  return { ports, l7: l7.rules.length > 0 ? l7 : null, path: disp };
}

function fail(ctx: DocContext, path: FieldPath, message: string): null {
  ctx.error(path, message);
  return null;
}

function parseIcmps(ctx: DocContext, v: unknown, path: FieldPath): IcmpField[] | null {
  const list = ctx.list(v, path);
  if (!list) return null;
  const out: IcmpField[] = [];
  let ok = true;
  list.forEach((r, i) => {
    const m = ctx.map(r, [...path, i], ['fields']);
    const fields = m ? ctx.list(m.fields, [...path, i, 'fields']) : null;
    if (!fields) return void (ok = false);
    fields.forEach((f, j) => {
      const fp = [...path, i, 'fields', j];
      const fm = ctx.map(f, fp, ['family', 'type']);
      if (!fm) return void (ok = false);
      const fam = fm.family === undefined || fm.family === null ? 'IPv4' : ctx.str(fm.family, [...fp, 'family']);
      if (fam !== 'IPv4' && fam !== 'IPv6') {
        if (fam !== null) ctx.error([...fp, 'family'], `must be IPv4 or IPv6, got ${JSON.stringify(fam)}`);
        return void (ok = false);
      }
      const t = icmpType(fm.type, fam);
      if (t === null) {
        ctx.error([...fp, 'type'], `must be an ICMP type number 0-255 or a known name, got ${JSON.stringify(fm.type)}`);
        return void (ok = false);
      }
      out.push({ family: fam, type: t });
    });
  });
  return ok ? out : null;
}
