/**
 * Durations and time arguments for the CLI: durations in the one grammar of core/duration.ts
 * (`30d`, `1h30m`, `500ms`, ...), and absolute RFC 3339 times for --since/--until.
 */
import { TendrilError, parseDurationMs as parseCoreDuration } from '../core/index.js';

/** Parses a duration into milliseconds (the one grammar, core/duration.ts); `field` names the option in errors. */
export function parseDurationMs(value: string, field: string): number {
  return parseCoreDuration(value, field, 'TND_OBSERVE_QUERY');
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
