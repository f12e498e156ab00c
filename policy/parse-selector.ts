/** Parses a Kubernetes LabelSelector (`matchLabels`, `matchExpressions`) with validation (§2.2). */
import type { DocContext, FieldPath } from './doc-context.js';
import { selectorFrom, type Selector, type SelectorOp } from './selector.js';

const OPS: readonly SelectorOp[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/**
 * `keyPrefix`/`defaultSource` rewrite keys, e.g. a NetworkPolicy namespaceSelector becomes
 * `k8s:io.cilium.k8s.namespace.labels.<key>` (§12).
 */
export function parseSelector(
  ctx: DocContext,
  v: unknown,
  path: FieldPath,
  keyPrefix = '',
  defaultSource?: string,
): Selector | null {
  const m = ctx.map(v, path, ['matchLabels', 'matchExpressions']);
  if (!m) return null;
  const labels = ctx.strMap(m.matchLabels, [...path, 'matchLabels']);
  const exprsRaw = ctx.list(m.matchExpressions, [...path, 'matchExpressions']);
  if (!labels || !exprsRaw) return null;
  const exprs: { key: string; operator: SelectorOp; values?: string[] }[] = [];
  let ok = true;
  exprsRaw.forEach((e, i) => {
    const p = [...path, 'matchExpressions', i];
    const em = ctx.map(e, p, ['key', 'operator', 'values']);
    if (!em) return void (ok = false);
    const key = ctx.str(em.key, [...p, 'key']);
    const op = ctx.str(em.operator, [...p, 'operator']);
    if (key === null || op === null) return void (ok = false);
    if (!OPS.includes(op as SelectorOp)) {
      ctx.error([...p, 'operator'], `must be one of ${OPS.join(', ')}, got ${JSON.stringify(op)}`);
      return void (ok = false);
    }
    const vals = ctx.list(em.values, [...p, 'values']);
    if (!vals) return void (ok = false);
    const strs: string[] = [];
    vals.forEach((x, j) => {
      const s = ctx.str(x, [...p, 'values', j]);
      if (s === null) ok = false;
      else strs.push(s);
    });
    if ((op === 'In' || op === 'NotIn') && strs.length === 0) {
      ctx.error([...p, 'values'], `must not be empty for operator ${op}`);
      ok = false;
    }
    if ((op === 'Exists' || op === 'DoesNotExist') && strs.length > 0) {
      ctx.error([...p, 'values'], `must be empty for operator ${op}`);
      ok = false;
    }
    exprs.push({ key, operator: op as SelectorOp, values: strs });
  });
  return ok ? selectorFrom(labels, exprs, keyPrefix, defaultSource) : null;
}
