// Property: a policy set's verdicts do not depend on the order documents are loaded or endpoints
// are added. Random permutations of the fixture corpus and of the world's endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { createEngine, mergePolicySets, parseCases, parsePolicyText, trace, worldFromObject, type WorldInput } from '../../policy/index.js';

const dir = new URL('./fixtures/', import.meta.url);
// Fixtures whose rules deliberately conflict with another fixture's when merged into one set.
const SEPARATE = ['auth-modes.yaml'];
const baseWorld = parse(readFileSync(new URL('_world.yaml', dir), 'utf8')) as WorldInput;
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && !f.startsWith('_') && !SEPARATE.includes(f))
  .map((f) => ({ f, fx: parse(readFileSync(new URL(f, dir), 'utf8')) as { policies: string; world?: unknown; error?: string; cases: unknown[] } }))
  .filter(({ fx }) => !fx.world && !fx.error);

// One big set: every fixture's documents in one file list; cases from all fixtures.
const docs = fixtures.flatMap(({ fx }) => fx.policies.split(/^---$/m).map((d) => d.trim()).filter(Boolean));
const cases = parseCases(stringify(fixtures.flatMap(({ f, fx }) => fx.cases.map((c) => ({ ...(c as object), id: `${f}:${(c as { id: string }).id}` })))), 'all');

function verdicts(docOrder: number[], epOrder: number[]): string[] {
  const set = mergePolicySets(docOrder.map((i) => parsePolicyText(docs[i], `doc${i}.yaml`)));
  const eps = baseWorld.endpoints ?? [];
  const world = worldFromObject({ ...baseWorld, endpoints: epOrder.map((i) => eps[i]) });
  return trace(createEngine({ policies: set, world }), cases).map((r) => `${r.id} ${r.verdict} ${r.authRequired} ${r.l7}`);
}

test('verdicts are independent of document and endpoint order', () => {
  const identity = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const reference = verdicts(identity(docs.length), identity(baseWorld.endpoints!.length));
  assert.ok(reference.length > 100, `corpus too small: ${reference.length}`);
  const perm = (n: number): fc.Arbitrary<number[]> =>
    fc.array(fc.nat(), { minLength: n, maxLength: n }).map((keys) => identity(n).sort((a, b) => keys[a] - keys[b] || a - b));
  fc.assert(
    fc.property(perm(docs.length), perm(baseWorld.endpoints!.length), (d, e) => {
      assert.deepEqual(verdicts(d, e), reference);
    }),
    { numRuns: 40 },
  );
});
