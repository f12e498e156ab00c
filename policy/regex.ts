/**
 * RE2-syntax regular expressions matched against the whole value (policy-semantics §8: Envoy
 * safe_regex, full-string match). Compiled once into an anchored JS RegExp `^(?:...)$`.
 * RE2 features JS lacks are translated (`(?i)` prefix, `(?P<n>`, `\z`, `\A`); JS-only features
 * RE2 rejects (backreferences, lookaround) are rejected here too so validation agrees with Cilium.
 */

export type StringMatcher = (value: string) => boolean;

export interface CompiledRegex {
  matcher: StringMatcher;
  source: string;
}

/** Compiles an RE2 pattern or returns an error sentence. */
export function compileRe2(pattern: string): CompiledRegex | string {
  let flags = '';
  let body = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    for (const f of lead[1]) {
      if (f === 'i') flags += 'i';
      else if (f === 's') flags += 's';
      else if (f === 'm') flags += 'm';
    }
    body = body.slice(lead[0].length);
  }
  if (/\(\?<?[=!]/.test(body)) return 'lookaround assertions are not RE2 syntax';
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(body)) return 'backreferences are not RE2 syntax';
  if (/\(\?[imsU-]+[):]/.test(body)) return 'inline flags are supported only at the start of the expression';
  body = body.replace(/\(\?P</g, '(?<').replace(/\\z/g, '$').replace(/\\A/g, '^');
  try {
    const re = new RegExp(`^(?:${body})$`, flags);
    return { matcher: (v) => re.test(v), source: pattern };
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}
