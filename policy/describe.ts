/** The resolved policy of one endpoint as plain data, for `tendril policy get`. */
import type { Engine } from './engine.js';
import type { PeerMatcher, RuleEntry, Rule } from './model.js';
import type { Endpoint } from './world.js';

export interface EntryView {
  direction: 'ingress' | 'egress';
  action: 'allow' | 'deny';
  peers: string;
  ports: string;
  l7: string;
  auth: string;
  policy: string;
  rule: string;
}

export interface DirectionView {
  mode: 'not enforced' | 'default deny' | 'enforced (explicit denies only)';
  policies: string[];
  entries: EntryView[];
}

export interface EndpointView {
  endpoint: string;
  identity: string[];
  ingress: DirectionView;
  egress: DirectionView;
}

export function peersText(p: PeerMatcher): string {
  switch (p.kind) {
    case 'none':
      return '(nothing)';
    case 'any':
      return 'any peer';
    case 'selectors':
      return p.selectors.map((s) => `{${s.text}}`).join(' OR ');
    case 'entities':
      return `entities ${p.entities.join(',')}`;
    case 'cidrs':
      return p.cidrs.map((c) => (c.except.length ? `${c.cidr.text} except ${c.except.map((e) => e.text).join(',')}` : c.cidr.text)).join(', ');
    case 'fqdns':
      return `fqdn ${p.texts.join(', ')}`;
    case 'nodes':
      return `remote nodes ${p.selectors.map((s) => `{${s.text}}`).join(' OR ')}`;
    case 'services':
      return `services ${p.refs.map((r) => (r.by === 'name' ? `${r.namespace ?? '*'}/${r.name}` : `${r.namespace ?? '*'}/{${r.selector.text}}`)).join(', ')}`;
  }
}

function entryViews(r: Rule, dir: 'ingress' | 'egress', action: 'allow' | 'deny', e: RuleEntry): EntryView[] {
  const base = { direction: dir, action, peers: peersText(e.peers), auth: e.auth ?? '-', policy: r.policy };
  if (e.icmps) return [{ ...base, ports: e.icmps.map((f) => `ICMP ${f.family} type ${f.type}`).join(', '), l7: '-', rule: e.path }];
  if (!e.ports) return [{ ...base, ports: 'all (L3-only)', l7: '-', rule: e.path }];
  return e.ports.map((pr) => ({
    ...base,
    ports: pr.ports.map((p) => `${p.port === null ? p.name : p.port === 0 ? '*' : p.endPort > p.port ? `${p.port}-${p.endPort}` : p.port}/${p.proto}`).join(', '),
    l7: pr.l7 ? `${pr.l7.kind} (${pr.l7.rules.length} rule${pr.l7.rules.length === 1 ? '' : 's'})` : '-',
    rule: pr.path,
  }));
}

export function describeEndpoint(engine: Engine, ep: Endpoint): EndpointView {
  const sr = engine.rulesFor(ep);
  const dirView = (dir: 'ingress' | 'egress'): DirectionView => {
    const rules = sr[dir];
    const mode = rules.length === 0 ? 'not enforced' : rules.some((r) => r[dir].defaultDeny) ? 'default deny' : 'enforced (explicit denies only)';
    const entries: EntryView[] = [];
    for (const r of rules) {
      for (const e of r[dir].deny) entries.push(...entryViews(r, dir, 'deny', e));
      for (const e of r[dir].allow) entries.push(...entryViews(r, dir, 'allow', e));
    }
    return { mode, policies: [...new Set(rules.map((r) => r.policy))], entries };
  };
  return {
    endpoint: ep.id,
    identity: ep.identity.labels.map((l) => `${l.source}:${l.key}=${l.value}`),
    ingress: dirView('ingress'),
    egress: dirView('egress'),
  };
}
