// Table-driven semantic tests: each test/policy/fixtures/*.yaml holds policies, an optional world
// and cases in the cases.yaml format of docs/reference/policy-trace.md with `expect` verdicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { createEngine, parseCases, parsePolicyText, parseWorld, trace, worldFromObject } from '../../policy/index.js';
import { isTendrilError } from '../../core/index.js';

const dir = new URL('./fixtures/', import.meta.url);
const baseWorldText = readFileSync(new URL('_world.yaml', dir), 'utf8');

interface Fixture {
  description: string;
  policies: string;
  world?: unknown;
  error?: string;
  cases: { id: string; expect?: string; expectAuth?: boolean; expectL7?: string | null }[];
}

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.startsWith('_')).sort();

test('fixtures directory is not empty', () => {
  assert.ok(files.length >= 15, `expected many fixtures, found ${files.length}`);
});

for (const file of files) {
  const fx = parse(readFileSync(new URL(file, dir), 'utf8')) as Fixture;
  test(`${file}: ${fx.description}`, () => {
    const world = fx.world ? worldFromObject(fx.world as never, file) : parseWorld(baseWorldText, '_world.yaml');
    const set = parsePolicyText(fx.policies, file);
    if (fx.error) {
      assert.throws(() => createEngine({ policies: set, world }), (err: unknown) => isTendrilError(err) && err.code === fx.error);
      return;
    }
    const engine = createEngine({ policies: set, world });
    const cases = parseCases(stringify(fx.cases), file);
    const results = trace(engine, cases, file);
    assert.equal(results.length, fx.cases.length);
    for (const [i, r] of results.entries()) {
      const c = fx.cases[i];
      assert.equal(r.verdict, c.expect, `${file} ${c.id}: expected ${c.expect}, got ${r.verdict}: ${r.reason}`);
      if (c.expectAuth !== undefined) assert.equal(r.authRequired, c.expectAuth, `${file} ${c.id}: authRequired`);
      if (c.expectL7 !== undefined) assert.equal(r.l7, c.expectL7, `${file} ${c.id}: l7`);
      assert.ok(r.reason.length > 0);
    }
  });
}
