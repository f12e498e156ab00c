/**
 * Identity labels (spec policy-semantics §2.1, §2.3): a Cilium label is `source:key=value`.
 * A LabelSet indexes them by `source:key` and by bare key (for `any:` selectors).
 */

export const CLUSTER_NAME = 'default';
export const NS_LABEL = 'io.kubernetes.pod.namespace';
export const SA_LABEL = 'io.cilium.k8s.policy.serviceaccount';
export const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
export const NS_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';

export interface Label {
  source: string;
  key: string;
  value: string;
}

export class LabelSet {
  readonly labels: readonly Label[];
  /** `source:key` -> value. */
  private readonly full = new Map<string, string>();
  /** key -> values from every source. */
  private readonly anySource = new Map<string, string[]>();
  /** Canonical text, equal for equal label sets: the identity key. */
  readonly id: string;

  constructor(labels: Label[]) {
    const sorted = [...labels].sort((a, b) => cmp(`${a.source}:${a.key}`, `${b.source}:${b.key}`));
    this.labels = sorted;
    for (const l of sorted) {
      this.full.set(`${l.source}:${l.key}`, l.value);
      const list = this.anySource.get(l.key);
      if (list) list.push(l.value);
      else this.anySource.set(l.key, [l.value]);
    }
    this.id = sorted.map((l) => `${l.source}:${l.key}=${l.value}`).join(',');
  }

  /** Values of `key` for `source` (`any` = every source). Empty when absent. */
  values(source: string, key: string): readonly string[] {
    if (source === 'any') return this.anySource.get(key) ?? EMPTY;
    const v = this.full.get(`${source}:${key}`);
    return v === undefined ? EMPTY : [v];
  }

  has(source: string, key: string): boolean {
    return this.values(source, key).length > 0;
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Splits a selector key into source and key: `k8s:app` -> k8s/app, `app` -> any/app (§2.1). */
export function parseSelectorKey(raw: string): { source: string; key: string } {
  const idx = raw.indexOf(':');
  if (idx < 0) return { source: 'any', key: raw };
  return { source: raw.slice(0, idx), key: raw.slice(idx + 1) };
}

/** Labels of a pod (§2.3): pod labels, namespace, service account, cluster, namespace labels. */
export function podIdentityLabels(
  podLabels: Record<string, string>,
  namespace: string,
  namespaceLabels: Record<string, string>,
  serviceAccount: string,
): LabelSet {
  const out: Label[] = [];
  for (const [key, value] of Object.entries(podLabels)) out.push({ source: 'k8s', key, value });
  out.push({ source: 'k8s', key: NS_LABEL, value: namespace });
  out.push({ source: 'k8s', key: SA_LABEL, value: serviceAccount });
  out.push({ source: 'k8s', key: CLUSTER_LABEL, value: CLUSTER_NAME });
  for (const [key, value] of Object.entries(namespaceLabels)) {
    out.push({ source: 'k8s', key: `${NS_LABELS_PREFIX}${key}`, value });
  }
  return new LabelSet(out);
}

/** Labels of a reserved identity such as `host` or `world` (plus extra reserved names). */
export function reservedLabels(names: string[]): LabelSet {
  return new LabelSet(names.map((key) => ({ source: 'reserved', key, value: '' })));
}

/**
 * Labels of a remote node (cluster-state-selectors D3, with enable-node-selector-labels on):
 * `reserved:remote-node`, every Node label as `node:<key>=<value>`, and the cluster label.
 */
export function nodeIdentityLabels(nodeLabels: Record<string, string>): LabelSet {
  const out: Label[] = [{ source: 'reserved', key: 'remote-node', value: '' }];
  for (const [key, value] of Object.entries(nodeLabels)) out.push({ source: 'node', key, value });
  out.push({ source: 'k8s', key: CLUSTER_LABEL, value: CLUSTER_NAME });
  return new LabelSet(out);
}
