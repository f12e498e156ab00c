/**
 * `tendril policy validate` warnings for the seed article's traps (policy-semantics §16):
 *  - kube-dns-default-deny: a CCNP default deny selecting CoreDNS itself (§16.2);
 *  - fqdn-without-dns-rule: toFQDNs in a policy with no DNS L7 rule, so no IP is learned (§16.4);
 *  - l7-wildcarded: an L7 port also opened by an L4-only/L3-only rule for an overlapping peer,
 *    which silently lifts the L7 restriction (§7, §16.7).
 */
import { LabelSet, NS_LABEL, NS_LABELS_PREFIX, CLUSTER_LABEL, type Label } from './labels.js';
import { coveringPorts, peerMatches, SelectorCache } from './match-peer.js';
import type { PolicySet, Rule, RuleEntry, PortRule } from './model.js';
import { endpointPeer, peerByIp, type Peer } from './peers.js';
import { resolveSubjects } from './engine.js';
import { matchesSelector, type Selector } from './selector.js';
import type { World } from './world.js';

export interface LintFinding {
  code: 'kube-dns-default-deny' | 'fqdn-without-dns-rule' | 'l7-wildcarded';
  message: string;
  policy?: string;
}

const KUBE_DNS = new LabelSet([
  { source: 'k8s', key: 'k8s-app', value: 'kube-dns' },
  { source: 'k8s', key: NS_LABEL, value: 'kube-system' },
  { source: 'k8s', key: `${NS_LABELS_PREFIX}kubernetes.io/metadata.name`, value: 'kube-system' },
  { source: 'k8s', key: CLUSTER_LABEL, value: 'default' },
  { source: 'k8s', key: 'io.cilium.k8s.policy.serviceaccount', value: 'coredns' },
]);

/** A pod identity satisfying a selector's positive requirements: the "typical" pod it targets. */
export function exemplar(sel: Selector): LabelSet {
  const labels: Label[] = [];
  for (const r of sel.reqs) {
    if (r.op !== 'In' && r.op !== 'Exists') continue;
    labels.push({ source: r.source === 'any' ? 'k8s' : r.source, key: r.key, value: r.op === 'In' ? r.values[0] : 'x' });
  }
  const ns = labels.find((l) => l.key === NS_LABEL)?.value;
  const nsName = `${NS_LABELS_PREFIX}kubernetes.io/metadata.name`;
  if (ns && !labels.some((l) => l.key === nsName)) labels.push({ source: 'k8s', key: nsName, value: ns });
  if (!labels.some((l) => l.source === 'reserved')) labels.push({ source: 'k8s', key: CLUSTER_LABEL, value: 'default' });
  const seen = new Set<string>();
  return new LabelSet(labels.filter((l) => !seen.has(`${l.source}:${l.key}`) && seen.add(`${l.source}:${l.key}`)));
}

const fakePeer = (labels: LabelSet): Peer => ({ kind: 'endpoint', labels, ip: null, ipText: null, endpoint: null, names: [], display: 'x', key: labels.id });

function allowsDnsIngress(rules: Rule[], dns: LabelSet, cache: SelectorCache): boolean {
  return rules.some(
    (r) => r.subject && matchesSelector(r.subject, dns) && r.ingress.allow.some((e) => e.peers.kind !== 'none' && coveringPorts(e, 'UDP', 53).length > 0),
  );
}

export function lintPolicies(set: PolicySet, world?: World): LintFinding[] {
  const out: LintFinding[] = [];
  const cache = new SelectorCache();
  const dnsPods = [KUBE_DNS, ...(world?.endpoints.filter((e) => e.labels['k8s-app'] === 'kube-dns').map((e) => e.identity) ?? [])];
  const closing: string[] = [];
  for (const r of set.rules) {
    if (r.kind !== 'CiliumClusterwideNetworkPolicy' || !r.subject) continue;
    const dns = dnsPods.find((d) => matchesSelector(r.subject!, d));
    if (!dns) continue;
    const dirs = [r.ingress.defaultDeny && !allowsDnsIngress(set.rules, dns, cache) && 'ingress', r.egress.defaultDeny && 'egress'].filter(Boolean);
    if (dirs.length > 0) closing.push(`${r.policy} (${dirs.join(' and ')})`);
  }
  if (closing.length > 0) {
    out.push({
      code: 'kube-dns-default-deny',
      policy: closing[0].split(' ')[0],
      message: `cluster-wide policies put CoreDNS (k8s-app=kube-dns in kube-system) into default deny: ${closing.join(', ')}. Nothing allows CoreDNS's own ingress on 53 (and its egress to upstream resolvers), so DNS breaks for every pod. Exclude kube-system from their endpointSelector or add allows for kube-dns.`,
    });
  }
  const byPolicy = new Map<string, Rule[]>();
  for (const r of set.rules) byPolicy.set(r.policy, [...(byPolicy.get(r.policy) ?? []), r]);
  for (const [policy, rules] of byPolicy) {
    const fq = rules.flatMap((r) => r.egress.allow).find((e) => e.peers.kind === 'fqdns');
    if (!fq) continue;
    const hasDns = set.rules.some((r) => r.egress.allow.some((e) => e.ports?.some((p) => p.l7?.kind === 'dns')));
    const inPolicy = rules.some((r) => r.egress.allow.some((e) => e.ports?.some((p) => p.l7?.kind === 'dns')));
    if (!inPolicy) {
      out.push({
        code: 'fqdn-without-dns-rule',
        policy,
        message: `${policy} ${fq.path}: toFQDNs (${fq.peers.kind === 'fqdns' ? fq.peers.texts.join(', ') : ''}) but the policy has no DNS L7 rule (toPorts[].rules.dns) towards kube-dns${hasDns ? ' (another policy in the set has one; it must cover these names for the same node)' : ''}: DNS answers never pass the DNS proxy, so no IP is learned and the traffic stays denied. Add rules: {dns: [{matchPattern: "*"}]} on the kube-dns egress rule.`,
      });
    }
  }
  out.push(...(world ? lintWildcardedInWorld(set.rules, world, cache) : lintWildcarded(set.rules, cache)));
  return out;
}

/** With a world: exact check over real endpoints (subjects) and real peers (endpoints + entities). */
function lintWildcardedInWorld(rules: Rule[], world: World, cache: SelectorCache): LintFinding[] {
  const out: LintFinding[] = [];
  const seen = new Set<string>();
  const peers: Peer[] = world.endpoints.map(endpointPeer);
  for (const ip of [...world.entities.host, ...world.entities['remote-node'], ...world.entities['kube-apiserver']]) {
    const p = peerByIp(world, ip);
    if (p) peers.push(p);
  }
  const subjects = resolveSubjects(rules, world.endpoints);
  for (const sr of subjects.values()) {
    for (const dir of ['ingress', 'egress'] as const) {
      for (const ra of sr[dir]) {
        for (const ea of ra[dir].allow) {
          for (const pa of ea.ports ?? []) {
            if (!pa.l7) continue;
            for (const rb of sr[dir]) {
              for (const eb of rb[dir].allow) {
                if (eb === ea) continue;
                const open = openedPorts(eb, pa);
                const key = `${ra.policy} ${pa.path}|${rb.policy} ${eb.path}`;
                if (!open || seen.has(key)) continue;
                const both = peers.find((p) => peerMatches(ea.peers, p, cache) && peerMatches(eb.peers, p, cache));
                if (!both) continue;
                seen.add(key);
                out.push({
                  code: 'l7-wildcarded',
                  policy: ra.policy,
                  message: `${ra.policy} ${pa.path}: its ${pa.l7.kind} rules are lifted for ${both.display} (and any other peer both select) because ${rb.policy} ${eb.path} also allows ${open} without L7 rules. Remove or narrow the L4-only rule.`,
                });
              }
            }
          }
        }
      }
    }
  }
  return out;
}

function lintWildcarded(rules: Rule[], cache: SelectorCache): LintFinding[] {
  const out: LintFinding[] = [];
  const seen = new Set<string>();
  for (const ra of rules) {
    for (const dir of ['ingress', 'egress'] as const) {
      for (const ea of ra[dir].allow) {
        for (const pa of ea.ports ?? []) {
          if (!pa.l7) continue;
          const peers = peerExemplars(ea);
          const subject = ra.subject ? exemplar(ra.subject) : null;
          for (const rb of rules) {
            if (!subject || !rb.subject || !matchesSelector(rb.subject, subject)) continue;
            for (const eb of rb[dir].allow) {
              if (eb === ea) continue;
              const open = openedPorts(eb, pa);
              if (!open) continue;
              const peer = peers.find((p) => peerMatches(eb.peers, fakePeer(p), cache)) ?? (ea.peers.kind === 'any' && eb.peers.kind !== 'none' ? subject : null);
              if (!peer) continue;
              const key = `${ra.policy} ${pa.path}|${rb.policy} ${eb.path}`;
              if (seen.has(key)) continue;
              seen.add(key);
              out.push({
                code: 'l7-wildcarded',
                policy: ra.policy,
                message: `${ra.policy} ${pa.path}: its ${pa.l7.kind} rules are lifted for overlapping peers because ${rb.policy} ${eb.path} also allows ${open} without L7 rules; every ${pa.l7.kind} request from those peers is allowed. Remove or narrow the L4-only rule.`,
              });
            }
          }
        }
      }
    }
  }
  return out;
}

function peerExemplars(e: RuleEntry): LabelSet[] {
  return e.peers.kind === 'selectors' ? e.peers.selectors.map(exemplar) : [];
}

/** Does entry `b` open (without L7) some port of `pa`? Returns a description or null. */
function openedPorts(b: RuleEntry, pa: PortRule): string | null {
  if (b.icmps) return null;
  for (const p of pa.ports) {
    if (p.port === null) continue;
    const proto = p.proto === 'ANY' ? 'TCP' : p.proto;
    const cover = coveringPorts(b, proto, p.port);
    if (cover.some((c) => c === null)) return `every port (L3-only rule)`;
    if (cover.some((c) => c && !c.l7)) return `${p.port}/${proto}`;
  }
  return null;
}
