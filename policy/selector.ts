/**
 * Kubernetes LabelSelectors evaluated against identity labels (policy-semantics §2.2), and the
 * namespace scoping Cilium applies to subject and peer selectors (§3).
 */
import { type LabelSet, parseSelectorKey, NS_LABEL, NS_LABELS_PREFIX } from './labels.js';

export type SelectorOp = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  source: string;
  key: string;
  op: SelectorOp;
  values: readonly string[];
}

/** A compiled selector: an AND of requirements. `text` identifies it (selector cache key). */
export interface Selector {
  readonly reqs: readonly Requirement[];
  readonly text: string;
}

export function makeSelector(reqs: Requirement[]): Selector {
  const text = reqs
    .map((r) => `${r.source}:${r.key} ${r.op} ${r.values.join('|')}`)
    .sort()
    .join(' & ');
  return { reqs, text: text || '{}' };
}

/** Builds a selector from already-validated matchLabels / matchExpressions. */
export function selectorFrom(
  matchLabels: Record<string, string> | undefined,
  matchExpressions: { key: string; operator: SelectorOp; values?: string[] }[] | undefined,
  keyPrefix = '',
  defaultSource?: string,
): Selector {
  const reqs: Requirement[] = [];
  const split = (raw: string): { source: string; key: string } => {
    if (defaultSource !== undefined) return { source: defaultSource, key: `${keyPrefix}${raw}` };
    return parseSelectorKey(raw);
  };
  for (const [k, v] of Object.entries(matchLabels ?? {})) {
    const { source, key } = split(k);
    reqs.push({ source, key, op: 'In', values: [String(v)] });
  }
  for (const e of matchExpressions ?? []) {
    const { source, key } = split(e.key);
    reqs.push({ source, key, op: e.operator, values: (e.values ?? []).map(String) });
  }
  return makeSelector(reqs);
}

export function andSelector(sel: Selector, extra: Requirement[]): Selector {
  return makeSelector([...sel.reqs, ...extra]);
}

export function matchesSelector(sel: Selector, labels: LabelSet): boolean {
  for (const r of sel.reqs) {
    const vals = labels.values(r.source, r.key);
    switch (r.op) {
      case 'In':
        if (!vals.some((v) => r.values.includes(v))) return false;
        break;
      case 'NotIn':
        if (vals.some((v) => r.values.includes(v))) return false;
        break;
      case 'Exists':
        if (vals.length === 0) return false;
        break;
      case 'DoesNotExist':
        if (vals.length > 0) return false;
        break;
    }
  }
  return true;
}

const nsSource = (s: string): boolean => s === 'k8s' || s === 'any';

/** §3.2 step 1: a selector using any `reserved:` key is left untouched. */
export function usesReserved(sel: Selector): boolean {
  return sel.reqs.some((r) => r.source === 'reserved');
}

/** §3.2 step 2: the selector names the pod-namespace key itself. */
export function mentionsNamespace(sel: Selector): boolean {
  return sel.reqs.some((r) => nsSource(r.source) && r.key === NS_LABEL);
}

/** §3.2 step 3: the selector names a namespace-label key. */
export function mentionsNamespaceLabels(sel: Selector): boolean {
  return sel.reqs.some((r) => nsSource(r.source) && r.key.startsWith(NS_LABELS_PREFIX));
}

export function namespaceIs(ns: string): Requirement {
  return { source: 'k8s', key: NS_LABEL, op: 'In', values: [ns] };
}

export const NAMESPACE_EXISTS: Requirement = { source: 'k8s', key: NS_LABEL, op: 'Exists', values: [] };

/**
 * Scopes a CNP/CCNP peer selector (§3.2): `namespace` is the policy namespace for a CNP,
 * null for a CCNP.
 */
export function scopePeerSelector(sel: Selector, namespace: string | null): Selector {
  if (usesReserved(sel) || mentionsNamespace(sel)) return sel;
  if (namespace !== null) {
    if (mentionsNamespaceLabels(sel)) return sel;
    return andSelector(sel, [namespaceIs(namespace)]);
  }
  return andSelector(sel, [NAMESPACE_EXISTS]);
}
