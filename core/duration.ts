/**
 * The one duration grammar (docs/configuration.md): one or more `<number><unit>` terms, units
 * `ms`, `s`, `m`, `h`, `d` (24 h) and `w` (7 d), e.g. `500ms`, `10s`, `30d`, `1h30m`. Config
 * durations are parsed with it once at load (consumers get milliseconds); CLI flags such as
 * `--since 7d` use it too.
 */
import { TendrilError } from './errors.js';
import type { ErrorCode } from './codes.js';

/** JSON Schema `pattern` accepting exactly what `parseDurationMs` accepts. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w))+$';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses a duration into milliseconds; `field` names the key or flag in errors. */
export function parseDurationMs(value: string, field: string, code: ErrorCode = 'TND_CONFIG_INVALID'): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
  let total = 0;
  let consumed = 0;
  for (const m of value.matchAll(re)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed += m[0].length;
  }
  if (value === '' || consumed !== value.length) {
    throw new TendrilError(code, `${field}: want a duration like 500ms, 30s, 15m, 12h, 7d or 1h30m, got ${JSON.stringify(value)}`, { field });
  }
  return total;
}
