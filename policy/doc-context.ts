/**
 * Error collection for one YAML document: every problem names file, document index, the
 * document's kind/name, the field path and line/column (STYLE §4), and all problems are
 * collected before the caller gives up. Also small typed accessors that report as they check.
 */
import { type Document, type LineCounter, isNode, isPair, isScalar } from 'yaml';
import { TendrilError, type ErrorCode } from '../core/index.js';

export type FieldPath = readonly (string | number)[];

export function formatPath(path: FieldPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : /^[A-Za-z0-9_-]+$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  }
  return out || '(document)';
}

export class DocContext {
  /** `(Kind ns/name)` once known. */
  label = '';
  /**
   * When set, unknown fields are collected here as warnings instead of errors (data files such
   * as world.yaml, whose format other tools may extend); policy documents stay strict.
   */
  unknownFieldWarnings: string[] | null = null;

  constructor(
    readonly file: string,
    readonly document: number,
    private readonly doc: Document | null,
    private readonly lines: LineCounter | null,
    readonly errors: TendrilError[],
    readonly code: ErrorCode,
  ) {}

  /** Line/column of the deepest existing node on `path` (1-based). */
  locate(path: FieldPath): { line?: number; column?: number } {
    if (!this.doc || !this.lines) return {};
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const pos = this.lines.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
      if (isPair(node) && isScalar(node.key) && node.key.range) {
        const pos = this.lines.linePos(node.key.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  }

  /** Records one problem at `path`; `code` defaults to the context's code. */
  error(path: FieldPath, message: string, code: ErrorCode = this.code): void {
    const at = this.locate(path);
    const field = formatPath(path);
    const where = at.line !== undefined ? ` (line ${at.line}, column ${at.column})` : '';
    const label = this.label ? ` ${this.label}` : '';
    const text = `${this.file} document ${this.document}${label}: ${field}: ${message}${where}`;
    this.errors.push(new TendrilError(code, text, { file: this.file, document: this.document, field, ...at }));
  }

  // --- typed accessors: return the value when well-typed, otherwise record an error ---

  isMap(v: unknown): v is Record<string, unknown> {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  }

  /** A mapping whose keys must all be in `allowed` (unknown fields are errors). */
  map(v: unknown, path: FieldPath, allowed: readonly string[]): Record<string, unknown> | null {
    if (v === null || v === undefined) return {};
    if (!this.isMap(v)) {
      this.error(path, `must be a mapping, got ${describe(v)}`);
      return null;
    }
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) {
        if (this.unknownFieldWarnings) {
          const at = this.locate([...path, k]);
          const where = at.line !== undefined ? ` (line ${at.line}, column ${at.column})` : '';
          this.unknownFieldWarnings.push(`${this.file}: ${formatPath([...path, k])}: unknown field ignored (known: ${allowed.join(', ')})${where}`);
          continue;
        }
        const code = this.code === 'TND_POLICY_INVALID_FIELD' ? 'TND_POLICY_UNKNOWN_FIELD' : this.code;
        this.error([...path, k], `unknown field "${k}" (allowed: ${allowed.join(', ')})`, code);
      }
    }
    return v;
  }

  list(v: unknown, path: FieldPath): unknown[] | null {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) {
      this.error(path, `must be a list, got ${describe(v)}`);
      return null;
    }
    return v;
  }

  str(v: unknown, path: FieldPath): string | null {
    if (typeof v !== 'string') {
      this.error(path, `must be a string, got ${describe(v)}`);
      return null;
    }
    return v;
  }

  bool(v: unknown, path: FieldPath): boolean | null {
    if (typeof v !== 'boolean') {
      this.error(path, `must be true or false, got ${describe(v)}`);
      return null;
    }
    return v;
  }

  /** A map of string to string (labels); `lenient` also takes numbers and booleans as text. */
  strMap(v: unknown, path: FieldPath, lenient = false): Record<string, string> | null {
    if (v === null || v === undefined) return {};
    if (!this.isMap(v)) {
      this.error(path, `must be a mapping of strings, got ${describe(v)}`);
      return null;
    }
    const out: Record<string, string> = {};
    let ok = true;
    for (const [k, val] of Object.entries(v)) {
      if (typeof val === 'string') out[k] = val;
      else if (val === null) out[k] = '';
      else if (lenient && (typeof val === 'number' || typeof val === 'boolean')) out[k] = String(val);
      else {
        this.error([...path, k], `must be a string, got ${describe(val)}`);
        ok = false;
      }
    }
    return ok ? out : null;
  }
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
