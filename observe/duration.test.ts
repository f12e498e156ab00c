import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationMs, parseTimeArg } from './duration.js';

test('durations in Go style plus days and weeks', () => {
  assert.equal(parseDurationMs('30d', 'x'), 30 * 86_400_000);
  assert.equal(parseDurationMs('1h30m', 'x'), 5_400_000);
  assert.equal(parseDurationMs('500ms', 'x'), 500);
  assert.equal(parseDurationMs('2w', 'x'), 14 * 86_400_000);
  for (const bad of ['', '7', 'd7', '7x', '1h 2m', '-1h']) assert.throws(() => parseDurationMs(bad, '--since'), /--since: want a duration/, bad);
});

test('time arguments: relative durations and RFC 3339', () => {
  const now = Date.parse('2026-05-08T00:00:00Z');
  assert.equal(parseTimeArg('7d', '--since', now), Date.parse('2026-05-01T00:00:00Z'));
  assert.equal(parseTimeArg('2026-05-01T12:00:00.5Z', '--since', now), Date.parse('2026-05-01T12:00:00.500Z'));
  assert.throws(() => parseTimeArg('2026-13-45T00:00:00Z', '--until', now), /--until: invalid time/);
});
