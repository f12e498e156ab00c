/**
 * Reads policy YAML (files or directories, recursively `*.yaml|*.yml`) into a validated
 * PolicySet. Every document is checked and every problem reported; one bad document rejects
 * the whole set (policy-trace contract: nothing is half-applied).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { AggregateInputError, TendrilError } from '../core/index.js';
import { DocContext } from './doc-context.js';
import type { PolicyDocumentInfo, PolicyKind, PolicySet, PolicyWarning, Rule } from './model.js';
import { parseCiliumRule } from './parse-cilium.js';
import { parseNetworkPolicy } from './parse-np.js';

const API: Record<PolicyKind, string> = {
  NetworkPolicy: 'networking.k8s.io/v1',
  CiliumNetworkPolicy: 'cilium.io/v2',
  CiliumClusterwideNetworkPolicy: 'cilium.io/v2',
};

/** Expands files and directories into a sorted list of YAML files. */
export function listYamlFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string, top: boolean): void => {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      throw new TendrilError('TND_POLICY_YAML', `${p}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: p }, { cause: err });
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (!name.startsWith('.')) walk(join(p, name), false);
      }
    } else if (top || /\.ya?ml$/i.test(p)) out.push(p);
  };
  for (const p of paths) walk(p, true);
  return out;
}

/** Loads and validates every document of every file; throws one error listing all problems. */
export function loadPolicies(paths: string[]): PolicySet {
  const sets: PolicySet[] = [];
  const errors: TendrilError[] = [];
  for (const file of listYamlFiles(paths)) {
    try {
      sets.push(parsePolicyText(readFileSync(file, 'utf8'), file));
    } catch (err) {
      if (err instanceof AggregateInputError) errors.push(...err.errors);
      else if (err instanceof TendrilError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length > 0) throw new AggregateInputError('TND_POLICY_INVALID_SET', errors);
  return mergePolicySets(sets);
}

export function mergePolicySets(sets: PolicySet[]): PolicySet {
  return {
    rules: sets.flatMap((s) => s.rules),
    documents: sets.flatMap((s) => s.documents),
    warnings: sets.flatMap((s) => s.warnings),
  };
}

/** Parses the documents of one file's text (pure; `file` is used in messages only). */
export function parsePolicyText(text: string, file: string): PolicySet {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const errors: TendrilError[] = [];
  const rules: Rule[] = [];
  const documents: PolicyDocumentInfo[] = [];
  const warnings: PolicyWarning[] = [];
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    errors.push(new TendrilError('TND_POLICY_YAML', `${file}: not a YAML stream`, { file }));
  }
  list.forEach((doc, idx) => {
    const n = idx + 1;
    const ctx = new DocContext(file, n, doc, lines, errors, 'TND_POLICY_INVALID_FIELD');
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        const where = pos ? ` (line ${pos.line}, column ${pos.col})` : '';
        errors.push(new TendrilError('TND_POLICY_YAML', `${file} document ${n}: invalid YAML: ${e.message.split('\n')[0]}${where}`, { file, document: n, line: pos?.line, column: pos?.col }));
      }
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const parsed = parseDocument(ctx, value);
    if (parsed === 'ignored') {
      const what = !ctx.isMap(value) ? `a ${Array.isArray(value) ? 'list' : typeof value}, not a resource` : value.kind === undefined ? 'no kind (a fragment, not a resource)' : `kind ${String(value.kind)}, not a policy`;
      warnings.push({ file, document: n, message: `${file} document ${n}: ${what}; ignored` });
    } else if (parsed) {
      rules.push(...parsed.rules);
      documents.push(parsed.info);
    }
  });
  if (errors.length > 0) throw new AggregateInputError('TND_POLICY_INVALID_SET', errors);
  return { rules, documents, warnings };
}

function parseDocument(ctx: DocContext, value: unknown): { rules: Rule[]; info: PolicyDocumentInfo } | 'ignored' | null {
  if (!ctx.isMap(value)) return 'ignored';
  const kind = value.kind;
  if (kind !== 'NetworkPolicy' && kind !== 'CiliumNetworkPolicy' && kind !== 'CiliumClusterwideNetworkPolicy') return 'ignored';
  const top = ctx.map(value, [], ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status']);
  if (!top) return null;
  if (value.apiVersion !== API[kind]) {
    ctx.error(['apiVersion'], `must be ${API[kind]} for kind ${kind}, got ${JSON.stringify(value.apiVersion)}`);
  }
  const meta = ctx.isMap(value.metadata) ? value.metadata : null;
  const name = meta && typeof meta.name === 'string' && meta.name !== '' ? meta.name : null;
  if (!name) ctx.error(['metadata', 'name'], 'is required');
  const clusterScoped = kind === 'CiliumClusterwideNetworkPolicy';
  const rawNs = meta?.namespace;
  if (rawNs !== undefined && rawNs !== null && typeof rawNs !== 'string') ctx.error(['metadata', 'namespace'], 'must be a string');
  const namespace = clusterScoped ? null : typeof rawNs === 'string' && rawNs !== '' ? rawNs : 'default';
  const policy = namespace === null ? (name ?? '?') : `${namespace}/${name ?? '?'}`;
  ctx.label = `(${kind} ${policy})`;
  if (!name) return null;
  const info: PolicyDocumentInfo = { file: ctx.file, document: ctx.document, kind, policy };
  if (kind === 'NetworkPolicy') {
    if (value.specs !== undefined) ctx.error(['specs'], 'NetworkPolicy has no specs field', 'TND_POLICY_UNKNOWN_FIELD');
    if (value.spec === undefined || value.spec === null) {
      ctx.error(['spec'], 'is required');
      return null;
    }
    const rule = parseNetworkPolicy(ctx, value.spec, namespace ?? 'default', policy);
    return rule ? { rules: [rule], info } : null;
  }
  const hasSpec = value.spec !== undefined && value.spec !== null;
  const specs = value.specs === undefined || value.specs === null ? [] : ctx.list(value.specs, ['specs']);
  if (!specs) return null;
  if (!hasSpec && specs.length === 0) {
    ctx.error([], `${kind} needs spec or specs`);
    return null;
  }
  const rules: Rule[] = [];
  let ok = true;
  if (hasSpec) {
    const r = parseCiliumRule(ctx, value.spec, ['spec'], kind, namespace, policy);
    if (r) rules.push(r);
    else ok = false;
  }
  specs.forEach((s, i) => {
    const r = parseCiliumRule(ctx, s, ['specs', i], kind, namespace, policy);
    if (r) rules.push(r);
    else ok = false;
  });
  return ok ? { rules, info } : null;
}
