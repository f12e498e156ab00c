/**
 * RE2-syntax regular expressions matched against the whole value (policy-semantics §8: Envoy
 * safe_regex, full-string match), compiled once into an anchored matcher `^(?:...)$`.
 *
 * Engine: the `re2` package (Google RE2, linear time, no catastrophic backtracking - an HTTP path
 * is attacker-controlled) when its native build is present; otherwise JS RegExp with RE2's
 * syntax differences translated (`(?i)` prefix, `(?P<n>`, `\z`, `\A`) and JS-only features RE2
 * rejects (backreferences, lookaround) rejected, so validation agrees with Cilium either way.
 * With `re2`, a pattern proven linear-time for a backtracking engine (regex-class.ts) is matched
 * by V8's RegExp instead: same answers, no native call per match.
 */
import { createRequire } from 'node:module';
import { linearRegExp } from './regex-class.js';

export type StringMatcher = (value: string) => boolean;
export type RegexEngine = 're2' | 'js';

export interface CompiledRegex {
  matcher: StringMatcher;
  source: string;
  engine: RegexEngine;
}

type Re2Ctor = new (pattern: string, flags?: string) => { test(s: string): boolean };

function loadRe2(): Re2Ctor | null {
  try {
    return createRequire(import.meta.url)('re2') as Re2Ctor;
  } catch {
    return null;
  }
}

const RE2: Re2Ctor | null = loadRe2();

/** The engine compileRe2 uses by default: `re2` when its native module loads. */
export const defaultRegexEngine: RegexEngine = RE2 ? 're2' : 'js';

/** RE2 accepts the pattern (so validation stays RE2's whichever engine matches). */
function RE2Valid(pattern: string): boolean {
  try {
    new RE2!(`^(?:${pattern})$`);
    return true;
  } catch {
    return false;
  }
}

/** Compiles an RE2 pattern or returns an error sentence. */
export function compileRe2(pattern: string, engine: RegexEngine = defaultRegexEngine): CompiledRegex | string {
  if (/\(\?<?[=!]/.test(pattern)) return 'lookaround assertions are not RE2 syntax';
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(pattern)) return 'backreferences are not RE2 syntax';
  if (engine === 're2' && RE2) {
    // Proven linear (regex-class.ts): V8's RegExp, ~10x cheaper per test than a native RE2 call.
    const linear = linearRegExp(pattern);
    if (linear !== null && RE2Valid(pattern)) return { matcher: (v) => linear.test(v), source: pattern, engine: 'js' };
    try {
      const re = new RE2(`^(?:${pattern})$`);
      return { matcher: (v) => re.test(v), source: pattern, engine: 're2' };
    } catch (err) {
      return `invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
    }
  }
  return compileJs(pattern);
}

function compileJs(pattern: string): CompiledRegex | string {
  let flags = '';
  let body = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    for (const f of lead[1]) if (f === 'i' || f === 's' || f === 'm') flags += f;
    body = body.slice(lead[0].length);
  }
  if (/\(\?[imsU-]+[):]/.test(body)) return 'inline flags are supported only at the start of the expression';
  body = body.replace(/\(\?P</g, '(?<').replace(/\\z/g, '$').replace(/\\A/g, '^');
  try {
    const re = new RegExp(`^(?:${body})$`, flags);
    return { matcher: (v) => re.test(v), source: pattern, engine: 'js' };
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}
