/**
 * Label selectors as Hubble's `source_label` / `destination_label` filters take them: Kubernetes
 * selector syntax over Cilium labels (`source:key=value`). A selector key without a source
 * (`app`) matches a label of any source; `k8s:app` only the `k8s` source. Supported forms,
 * comma-separated and AND'd: `key`, `!key`, `key=value`, `key==value`, `key!=value`,
 * `key in (a,b)`, `key notin (a,b)`.
 */
import { TendrilError } from '../core/index.js';

type Op = 'exists' | 'notexists' | 'eq' | 'neq' | 'in' | 'notin';

interface Requirement {
  source: string | null;
  key: string;
  op: Op;
  values: string[];
}

/** A compiled selector: true when the label list satisfies every requirement. */
export type LabelMatcher = (labels: readonly string[] | undefined) => boolean;

function splitKey(raw: string): { source: string | null; key: string } {
  const k = raw.trim();
  const colon = k.indexOf(':');
  if (colon < 0) return { source: null, key: k };
  const source = k.slice(0, colon);
  return { source: source === 'any' ? null : source, key: k.slice(colon + 1) };
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseRequirement(part: string, field: string): Requirement {
  const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
  if (setMatch) {
    const values = setMatch[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
    return { ...splitKey(setMatch[1]!), op: setMatch[2] === 'in' ? 'in' : 'notin', values };
  }
  if (part.startsWith('!')) return { ...splitKey(part.slice(1)), op: 'notexists', values: [] };
  const ne = part.indexOf('!=');
  if (ne > 0) return { ...splitKey(part.slice(0, ne)), op: 'neq', values: [part.slice(ne + 2).trim()] };
  const eq = part.indexOf('=');
  if (eq > 0) {
    const value = part.slice(part[eq + 1] === '=' ? eq + 2 : eq + 1).trim();
    return { ...splitKey(part.slice(0, eq)), op: 'eq', values: [value] };
  }
  if (/[\s()=!]/.test(part)) {
    throw new TendrilError('TND_OBSERVE_QUERY', `${field}: cannot parse label selector ${JSON.stringify(part)}`, { field });
  }
  return { ...splitKey(part), op: 'exists', values: [] };
}

/** Values of every label with this key (and source, when given). */
function lookup(labels: readonly string[], source: string | null, key: string): string[] {
  const out: string[] = [];
  for (const l of labels) {
    const colon = l.indexOf(':');
    const lsrc = colon >= 0 ? l.slice(0, colon) : 'unspec';
    const rest = colon >= 0 ? l.slice(colon + 1) : l;
    const eq = rest.indexOf('=');
    const lkey = eq >= 0 ? rest.slice(0, eq) : rest;
    if (lkey !== key) continue;
    if (source !== null && source !== lsrc) continue;
    out.push(eq >= 0 ? rest.slice(eq + 1) : '');
  }
  return out;
}

const KEY = /^[A-Za-z0-9_.\-/]+$/;
const VALUE = /^[A-Za-z0-9_.\-]*$/;

/** Compiles one selector string; `field` names it in errors (`whitelist[0].source_label[1]`). */
export function compileLabelSelector(selector: string, field: string): LabelMatcher {
  const reqs = splitTopLevel(selector).map((p) => {
    const r = parseRequirement(p, field);
    if (!KEY.test(r.key) || (r.source !== null && !KEY.test(r.source)) || !r.values.every((v) => VALUE.test(v))) {
      throw new TendrilError('TND_OBSERVE_QUERY', `${field}: cannot parse label selector ${JSON.stringify(p)}`, { field });
    }
    return r;
  });
  if (reqs.length === 0) throw new TendrilError('TND_OBSERVE_QUERY', `${field}: empty label selector`, { field });
  return (labels) => {
    const ls = labels ?? [];
    for (const r of reqs) {
      const vs = lookup(ls, r.source, r.key);
      switch (r.op) {
        case 'exists':
          if (vs.length === 0) return false;
          break;
        case 'notexists':
          if (vs.length > 0) return false;
          break;
        case 'eq':
        case 'in':
          if (!vs.some((v) => r.values.includes(v))) return false;
          break;
        case 'neq':
        case 'notin':
          if (vs.some((v) => r.values.includes(v))) return false;
          break;
      }
    }
    return true;
  };
}
