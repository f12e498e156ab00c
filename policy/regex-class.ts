/**
 * Which engine may match a policy regex (docs/policy.md, "Regex engines"). HTTP paths are
 * attacker-controlled, so a pattern goes to V8's backtracking RegExp only when it is PROVEN to
 * match in time linear in the input; everything else stays on RE2 (linear by construction).
 *
 * The proof is syntactic and conservative. A pattern is `linear` when it is a plain sequence of
 * atoms — literal characters, escapes (`\d \w \s \D \W \S` and escaped punctuation), `.`, bracket
 * classes without POSIX names — optionally anchored with `^`/`$`, and every quantified atom
 * (`* + ? {n,m}`) is followed by a literal character the atom cannot match, or by the end of the
 * pattern. Then backtracking into a quantifier fails after one step (the next character must be
 * that literal, which the atom never consumed), so the matcher does O(pattern x input) work.
 * Groups, alternation, inline flags, backreferences and lookaround are never `linear` here.
 */

export type RegexClass = 'linear' | 'backtracking-risk';

export interface RegexClassification {
  class: RegexClass;
  /** Why (for the table test and the bench): e.g. `group`, `adjacent quantifiers`. */
  reason: string;
}

interface Atom {
  /** JS RegExp source of the atom (RE2 and JS agree on these forms). */
  src: string;
  /** The literal character, when the atom is one. */
  literal: string | null;
  quantified: boolean;
  /** The quantifier as written (`*`, `{2,5}?`, ...), or ''. */
  quant: string;
}

// `\s` is left out: RE2's is [\t\n\f\r ], V8's also matches \v and Unicode spaces.
const SIMPLE_ESCAPES = new Set(['d', 'D', 'w', 'W']);

function tokenize(p: string): Atom[] | string {
  const atoms: Atom[] = [];
  let i = 0;
  if (p.startsWith('^')) i = 1;
  let end = p.length;
  if (p.endsWith('$') && !p.endsWith('\\$')) end--;
  while (i < end) {
    const c = p[i]!;
    let atom: Atom;
    if (c === '(' || c === ')') return 'group';
    if (c === '|') return 'alternation';
    if (c === '^' || c === '$') return 'anchor inside the pattern';
    if (c === '*' || c === '+' || c === '?' || c === '{') return 'quantifier without an atom';
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) return 'trailing backslash';
      if (SIMPLE_ESCAPES.has(n)) atom = { src: `\\${n}`, literal: null, quantified: false, quant: '' };
      else if (/[^A-Za-z0-9]/.test(n)) atom = { src: `\\${n}`, literal: n, quantified: false, quant: '' };
      else return `escape \\${n}`;
      i += 2;
    } else if (c === '[') {
      let j = i + 1;
      if (p[j] === '^') j++;
      if (p[j] === ']') j++;
      while (j < end && p[j] !== ']') {
        if (p[j] === '[') return 'nested or POSIX class';
        if (p[j] === '\\') j++;
        j++;
      }
      if (j >= end) return 'unterminated class';
      atom = { src: p.slice(i, j + 1), literal: null, quantified: false, quant: '' };
      i = j + 1;
    } else if (c === '.') {
      atom = { src: '.', literal: null, quantified: false, quant: '' };
      i++;
    } else {
      atom = { src: c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'), literal: c, quantified: false, quant: '' };
      i++;
    }
    // Quantifier (a lazy `?` suffix changes nothing for the proof).
    const q = p[i];
    const qStart = i;
    if (q === '*' || q === '+' || q === '?') {
      atom.quantified = true;
      i++;
    } else if (q === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
      if (!m) return 'malformed repetition';
      atom.quantified = m[2] !== undefined; // {n} is a fixed repetition, not a choice
      i += m[0].length;
    }
    if (p[i] === '?' && atom.quantified) i++;
    atom.quant = p.slice(qStart, i);
    if (p[i] === '*' || p[i] === '+' || (p[i] === '{' && atom.quantified)) return 'stacked quantifiers';
    atoms.push(atom);
  }
  return atoms;
}

function atomMatches(atom: Atom, ch: string): boolean {
  return new RegExp(`^(?:${atom.src})$`, 's').test(ch);
}

export function classifyRegex(pattern: string): RegexClassification {
  if (/^\(\?[a-zA-Z]+\)/.test(pattern)) return { class: 'backtracking-risk', reason: 'inline flags' };
  const atoms = tokenize(pattern);
  if (typeof atoms === 'string') return { class: 'backtracking-risk', reason: atoms };
  for (let k = 0; k < atoms.length; k++) {
    const a = atoms[k]!;
    if (!a.quantified) continue;
    const next = atoms[k + 1];
    if (next === undefined) continue; // last atom: its greedy match ends at the end of the input
    if (next.quantified || next.literal === null) return { class: 'backtracking-risk', reason: 'quantifier not followed by a distinct literal' };
    if (atomMatches(a, next.literal)) return { class: 'backtracking-risk', reason: 'quantifier overlaps the literal after it' };
  }
  return { class: 'linear', reason: 'sequence of atoms; every quantifier is delimited' };
}

/**
 * A V8 RegExp equivalent to the RE2 full match `^(?:pattern)$` for a `linear` pattern, or null
 * (not proven linear, or V8 refuses the translation). `u` flag: code points, as RE2 reads UTF-8;
 * `.` becomes `[^\n]` (RE2's dot; V8's would also exclude \r and U+2028/9).
 */
export function linearRegExp(pattern: string): RegExp | null {
  if (classifyRegex(pattern).class !== 'linear') return null;
  const atoms = tokenize(pattern) as Atom[];
  let src = '';
  for (const a of atoms) {
    src += a.src === '.' ? '[^\\n]' : a.literal !== null ? a.literal.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&') : a.src;
    src += a.quant;
  }
  try {
    return new RegExp(`^(?:${src})$`, 'u');
  } catch {
    return null;
  }
}
