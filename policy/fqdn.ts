/**
 * DNS names and patterns shared by DNS rules and toFQDNs (policy-semantics §10.1): names are
 * lower-cased with a trailing dot; `*` = zero or more of [-a-zA-Z0-9_] inside one label;
 * a leading `**.` = one or more whole labels; a pattern of only `*` matches every name.
 */

const NAME_CHARS = /^[-a-zA-Z0-9_.]+$/;
const PATTERN_CHARS = /^[-a-zA-Z0-9_.*]+$/;

export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Returns an error sentence, or null when the name/pattern is valid (§1.3 toFQDNs). */
export function checkFqdn(value: string, isPattern: boolean): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 255) return `must be at most 255 characters, got ${value.length}`;
  const re = isPattern ? PATTERN_CHARS : NAME_CHARS;
  if (!re.test(value)) return `may contain only ${isPattern ? '[-a-zA-Z0-9_.*]' : '[-a-zA-Z0-9_.]'}, got ${JSON.stringify(value)}`;
  return null;
}

export type NameMatcher = (normalizedName: string) => boolean;

const ALL_NAMES = /^[-a-z0-9_.]+$/;

export function compileMatchName(name: string): NameMatcher {
  const want = normalizeName(name);
  return (n) => n === want;
}

export function compileMatchPattern(pattern: string): NameMatcher {
  const p = normalizeName(pattern);
  if (p === '*.' || p === '**.' || p === '*..') return (n) => ALL_NAMES.test(n);
  let body = p;
  let prefix = '';
  if (body.startsWith('**.')) {
    prefix = '(?:[-a-z0-9_]+\\.)+';
    body = body.slice(3);
  }
  const escaped = body
    .split('')
    .map((ch) => (ch === '*' ? '[-a-z0-9_]*' : ch === '.' ? '\\.' : ch))
    .join('');
  const re = new RegExp(`^${prefix}${escaped}$`);
  return (n) => re.test(n);
}
