/**
 * core/errors: the one base error class every Tendril area extends, and the registry of
 * stable error codes. Callers match on `err.code`, never on message text.
 * May import: nothing.
 */
import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface ErrorContext {
  /** File the bad input came from, when there was one. */
  file?: string;
  /** 1-based index of the YAML document within the file. */
  document?: number;
  /** Field path inside the document, e.g. `spec.ingress[0].toPorts[0].ports[0].port`. */
  field?: string;
  line?: number;
  column?: number;
  [key: string]: unknown;
}

/** Base class: a stable `code`, an optional `cause`, and structured context. */
export class TendrilError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TendrilError';
    this.code = code;
    this.context = context;
  }

  /** One-line summary fit for a terminal: `CODE: message`. */
  override toString(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** Several input errors collected before giving up, so the user sees them all at once. */
export class AggregateInputError extends TendrilError {
  readonly errors: TendrilError[];
  constructor(code: ErrorCode, errors: TendrilError[]) {
    super(code, errors.map((e) => e.message).join('\n'), { count: errors.length });
    this.name = 'AggregateInputError';
    this.errors = errors;
  }
}

export function isTendrilError(err: unknown): err is TendrilError {
  return err instanceof TendrilError;
}

export function describeCode(code: ErrorCode): string {
  return ERROR_CODES[code];
}
