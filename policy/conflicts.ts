/**
 * §13: two allow entries with the same peer selector and port but different explicit
 * authentication modes cannot be merged either.
 *
 * §7.6: two L7 parsers (e.g. HTTP and Kafka) on the same port of the same subject cannot be
 * merged; Cilium fails to compute that endpoint's policy. Tendril rejects the set.
 */
import { TendrilError } from '../core/index.js';
import type { PortRule, Rule, RuleEntry } from './model.js';
import { peersText } from './describe.js';
import type { SubjectRules } from './engine.js';
import type { Endpoint } from './world.js';

interface L7Port {
  rule: Rule;
  pr: PortRule;
}

function overlaps(a: PortRule, b: PortRule): boolean {
  for (const x of a.ports) {
    for (const y of b.ports) {
      if (x.port === null || y.port === null) continue;
      if (x.proto !== 'ANY' && y.proto !== 'ANY' && x.proto !== y.proto) continue;
      const xe = Math.max(x.port, x.endPort);
      const ye = Math.max(y.port, y.endPort);
      if (x.port <= ye && y.port <= xe) return true;
    }
  }
  return false;
}

export function checkL7Conflicts(subjects: Map<string, SubjectRules>, endpoints: readonly Endpoint[]): void {
  const seen = new Set<string>();
  for (const ep of endpoints) {
    if (seen.has(ep.identity.id)) continue;
    seen.add(ep.identity.id);
    const sr = subjects.get(ep.identity.id);
    if (!sr) continue;
    for (const dir of ['ingress', 'egress'] as const) {
      checkAuthConflicts(sr[dir], dir, ep);
      const l7: L7Port[] = [];
      for (const rule of sr[dir]) {
        for (const e of rule[dir].allow) for (const pr of e.ports ?? []) if (pr.l7) l7.push({ rule, pr });
      }
      for (let a = 0; a < l7.length; a++) {
        for (let b = a + 1; b < l7.length; b++) {
          const x = l7[a];
          const y = l7[b];
          if (x.pr.l7!.kind !== y.pr.l7!.kind && overlaps(x.pr, y.pr)) {
            throw new TendrilError(
              'TND_POLICY_CONFLICT',
              `${x.rule.source.file} document ${x.rule.source.document} (${x.rule.policy}) ${x.pr.path} and ${y.rule.source.file} document ${y.rule.source.document} (${y.rule.policy}) ${y.pr.path}: ` +
                `${x.pr.l7!.kind} and ${y.pr.l7!.kind} rules on the same port of ${ep.id} (${dir}) cannot be merged`,
              { file: x.rule.source.file, document: x.rule.source.document, field: x.pr.path, endpoint: ep.id },
            );
          }
        }
      }
    }
  }
}

function portKeys(e: RuleEntry): string[] {
  if (e.icmps) return e.icmps.map((f) => `icmp/${f.family}/${f.type}`);
  if (!e.ports) return ['L3'];
  return e.ports.flatMap((pr) => pr.ports.map((p) => `${p.proto}/${p.port ?? p.name}-${Math.max(p.port ?? 0, p.endPort)}`));
}

function checkAuthConflicts(rules: readonly Rule[], dir: 'ingress' | 'egress', ep: Endpoint): void {
  const seen = new Map<string, { rule: Rule; entry: RuleEntry }>();
  for (const rule of rules) {
    for (const entry of rule[dir].allow) {
      if (!entry.auth) continue;
      for (const port of portKeys(entry)) {
        const key = `${peersText(entry.peers)}|${port}`;
        const prev = seen.get(key);
        if (!prev) {
          seen.set(key, { rule, entry });
        } else if (prev.entry.auth !== entry.auth) {
          throw new TendrilError(
            'TND_POLICY_CONFLICT',
            `${prev.rule.source.file} document ${prev.rule.source.document} (${prev.rule.policy}) ${prev.entry.path} and ${rule.source.file} document ${rule.source.document} (${rule.policy}) ${entry.path}: ` +
              `authentication modes ${prev.entry.auth} and ${entry.auth} for the same peers and port of ${ep.id} (${dir}) cannot be merged`,
            { file: rule.source.file, document: rule.source.document, field: `${entry.path}.authentication.mode`, endpoint: ep.id },
          );
        }
      }
    }
  }
}
