/**
 * Durations and time arguments: `30d`, `7d`, `12h`, `1h30m`, `90s`, `500ms` (Go-style units plus
 * `d` = 24 h and `w` = 7 d), and absolute RFC 3339 times for --since/--until.
 */
import { TendrilError } from '../core/index.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses a duration into milliseconds; `field` names the option in errors. */
export function parseDurationMs(value: string, field: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
  let total = 0;
  let consumed = 0;
  for (const m of value.matchAll(re)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed += m[0].length;
  }
  if (value === '' || consumed !== value.length) {
    throw new TendrilError('TND_OBSERVE_QUERY', `${field}: want a duration like 30s, 15m, 12h, 7d or 1h30m, got ${JSON.stringify(value)}`, { field });
  }
  return total;
}

/**
 * `--since`/`--until` value: a duration back from `nowMs` (`7d`) or an RFC 3339 time
 * (`2026-05-01T12:00:00Z`). Returns epoch ms.
 */
export function parseTimeArg(value: string, field: string, nowMs = Date.now()): number {
  if (/^\d{4}-\d\d-\d\d/.test(value)) {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new TendrilError('TND_OBSERVE_QUERY', `${field}: invalid time ${JSON.stringify(value)} (want RFC 3339, e.g. 2026-05-01T12:00:00Z)`, { field });
    return t;
  }
  return nowMs - parseDurationMs(value, field);
}
