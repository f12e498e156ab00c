/**
 * Parses `toPorts[].rules` (policy-semantics §7-§10) into compiled matchers, with the §1.3
 * checks: one parser per block, RE2 regexes, Kafka role/apiKey/apiVersion/topic, DNS names.
 */
import type { DocContext, FieldPath } from './doc-context.js';
import { checkFqdn, compileMatchName, compileMatchPattern } from './fqdn.js';
import { KAFKA_API_KEYS, KAFKA_ROLE_KEYS } from './kafka-keys.js';
import type { DnsRule, HeaderCheck, HttpRule, KafkaRule, L7Rules } from './model.js';
import { compileRe2 } from './regex.js';

const RULE_KINDS = ['http', 'kafka', 'dns', 'l7proto', 'l7'] as const;
const TOPIC_RE = /^[a-zA-Z0-9._\\-]{1,255}$/;
const MISMATCH = ['LOG', 'ADD', 'DELETE', 'REPLACE'];

/** Returns the parsed rules, `null` on error, or `undefined` when no L7 rule is present. */
export function parseL7(ctx: DocContext, v: unknown, path: FieldPath, displayPath: string): L7Rules | null | undefined {
  const m = ctx.map(v, path, RULE_KINDS);
  if (!m) return null;
  const present = RULE_KINDS.filter((k) => m[k] !== undefined && m[k] !== null && k !== 'l7');
  if (present.length > 1) {
    ctx.error(path, `only one of http, kafka, dns, l7proto may be set, got ${present.join(' and ')}`);
    return null;
  }
  if (m.l7 !== undefined && m.l7proto === undefined) {
    ctx.error([...path, 'l7'], 'requires l7proto');
    return null;
  }
  const kind = present[0];
  if (kind === undefined) return undefined;
  if (kind === 'l7proto') {
    ctx.error([...path, 'l7proto'], 'generic L7 parsers (l7proto) are not supported by Tendril');
    return null;
  }
  const list = ctx.list(m[kind], [...path, kind]);
  if (!list) return null;
  let ok = true;
  const at = (i: number): FieldPath => [...path, kind, i];
  const disp = (i: number): string => `${displayPath}.rules.${kind}[${i}]`;
  if (kind === 'http') {
    const rules: HttpRule[] = [];
    list.forEach((r, i) => {
      const x = parseHttpRule(ctx, r, at(i), disp(i));
      if (x) rules.push(x);
      else ok = false;
    });
    return ok ? { kind, rules } : null;
  }
  if (kind === 'kafka') {
    const rules: KafkaRule[] = [];
    list.forEach((r, i) => {
      const x = parseKafkaRule(ctx, r, at(i), disp(i));
      if (x) rules.push(x);
      else ok = false;
    });
    return ok ? { kind, rules } : null;
  }
  const rules: DnsRule[] = [];
  list.forEach((r, i) => {
    const x = parseDnsRule(ctx, r, at(i), disp(i));
    if (x) rules.push(x);
    else ok = false;
  });
  return ok ? { kind: 'dns', rules } : null;
}

function regexField(ctx: DocContext, v: unknown, path: FieldPath): ((s: string) => boolean) | undefined | null {
  if (v === undefined || v === null || v === '') return undefined;
  const s = ctx.str(v, path);
  if (s === null) return null;
  const re = compileRe2(s);
  if (typeof re === 'string') {
    ctx.error(path, `${re}: ${JSON.stringify(s)}`);
    return null;
  }
  return re.matcher;
}

function parseHttpRule(ctx: DocContext, v: unknown, path: FieldPath, disp: string): HttpRule | null {
  const m = ctx.map(v, path, ['method', 'path', 'host', 'headers', 'headerMatches']);
  if (!m) return null;
  const method = regexField(ctx, m.method, [...path, 'method']);
  const p = regexField(ctx, m.path, [...path, 'path']);
  const host = regexField(ctx, m.host, [...path, 'host']);
  let ok = method !== null && p !== null && host !== null;
  const headers: HeaderCheck[] = [];
  (ctx.list(m.headers, [...path, 'headers']) ?? []).forEach((h, i) => {
    const s = ctx.str(h, [...path, 'headers', i]);
    if (s === null) return void (ok = false);
    const sp = s.indexOf(' ');
    if (sp < 0) headers.push({ name: s.replace(/:$/, '').toLowerCase(), blocking: true });
    else headers.push({ name: s.slice(0, sp).replace(/:$/, '').toLowerCase(), value: s.slice(sp + 1), blocking: true });
  });
  (ctx.list(m.headerMatches, [...path, 'headerMatches']) ?? []).forEach((h, i) => {
    const hp = [...path, 'headerMatches', i];
    const hm = ctx.map(h, hp, ['name', 'value', 'secret', 'mismatch']);
    if (!hm) return void (ok = false);
    const name = ctx.str(hm.name, [...hp, 'name']);
    if (name === null) return void (ok = false);
    const value = hm.value === undefined || hm.value === null ? undefined : ctx.str(hm.value, [...hp, 'value']);
    if (value === null) return void (ok = false);
    if (hm.secret !== undefined) ctx.map(hm.secret, [...hp, 'secret'], ['name', 'namespace']);
    let blocking = true;
    if (hm.mismatch !== undefined && hm.mismatch !== null && hm.mismatch !== '') {
      const mm = ctx.str(hm.mismatch, [...hp, 'mismatch']);
      if (mm === null || !MISMATCH.includes(mm)) {
        if (mm !== null) ctx.error([...hp, 'mismatch'], `must be one of ${MISMATCH.join(', ')}, got ${JSON.stringify(mm)}`);
        return void (ok = false);
      }
      blocking = false;
    }
    // A secret is never resolvable here (no Kubernetes API): without a value fallback the rule never matches.
    const unresolvable = hm.secret !== undefined && value === undefined && blocking;
    headers.push({ name: name.toLowerCase(), value, blocking, unresolvable });
  });
  if (!ok) return null;
  return { method: method ?? undefined, path: p ?? undefined, host: host ?? undefined, headers, path_: disp };
}

function parseKafkaRule(ctx: DocContext, v: unknown, path: FieldPath, disp: string): KafkaRule | null {
  const m = ctx.map(v, path, ['role', 'apiKey', 'apiVersion', 'clientID', 'topic']);
  if (!m) return null;
  const has = (k: string): boolean => m[k] !== undefined && m[k] !== null && m[k] !== '';
  let ok = true;
  let keys: ReadonlySet<number> | null = null;
  if (has('role') && has('apiKey')) {
    ctx.error(path, 'role and apiKey are mutually exclusive');
    return null;
  }
  if (has('role')) {
    const role = ctx.str(m.role, [...path, 'role']);
    const r = role?.toLowerCase();
    if (r === 'produce' || r === 'consume') keys = KAFKA_ROLE_KEYS[r];
    else {
      if (role !== null) ctx.error([...path, 'role'], `must be produce or consume, got ${JSON.stringify(role)}`);
      ok = false;
    }
  }
  if (has('apiKey')) {
    const key = ctx.str(m.apiKey, [...path, 'apiKey']);
    const n = key === null ? undefined : KAFKA_API_KEYS[key.toLowerCase()];
    if (n === undefined) {
      if (key !== null) ctx.error([...path, 'apiKey'], `unknown Kafka API key name ${JSON.stringify(key)}`);
      ok = false;
    } else keys = new Set([n]);
  }
  let apiVersion: number | undefined;
  if (has('apiVersion')) {
    const raw = m.apiVersion;
    const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 32767) {
      ctx.error([...path, 'apiVersion'], `must be an integer 0-32767, got ${JSON.stringify(raw)}`);
      ok = false;
    } else apiVersion = n;
  }
  let clientID: string | undefined;
  if (has('clientID')) {
    const s = ctx.str(m.clientID, [...path, 'clientID']);
    if (s === null) ok = false;
    else clientID = s;
  }
  let topic: string | undefined;
  if (has('topic')) {
    const s = ctx.str(m.topic, [...path, 'topic']);
    if (s === null) ok = false;
    else if (!TOPIC_RE.test(s)) {
      ctx.error([...path, 'topic'], `must be 1-255 characters of [a-zA-Z0-9._-], got ${JSON.stringify(s)}`);
      ok = false;
    } else topic = s;
  }
  return ok ? { keys, apiVersion, clientID, topic, path_: disp } : null;
}

/** One `{matchName}` or `{matchPattern}` (DNS rules and toFQDNs share it, §10.1). */
export function parseNameSelector(ctx: DocContext, v: unknown, path: FieldPath): ((n: string) => boolean) | null {
  const m = ctx.map(v, path, ['matchName', 'matchPattern']);
  if (!m) return null;
  const hasName = m.matchName !== undefined && m.matchName !== null && m.matchName !== '';
  const hasPat = m.matchPattern !== undefined && m.matchPattern !== null && m.matchPattern !== '';
  if (hasName === hasPat) {
    ctx.error(path, 'exactly one of matchName and matchPattern must be set');
    return null;
  }
  const key = hasName ? 'matchName' : 'matchPattern';
  const s = ctx.str(m[key], [...path, key]);
  if (s === null) return null;
  const bad = checkFqdn(s, !hasName);
  if (bad) {
    ctx.error([...path, key], bad);
    return null;
  }
  return hasName ? compileMatchName(s) : compileMatchPattern(s);
}

function parseDnsRule(ctx: DocContext, v: unknown, path: FieldPath, disp: string): DnsRule | null {
  const match = parseNameSelector(ctx, v, path);
  return match ? { match, path_: disp } : null;
}
