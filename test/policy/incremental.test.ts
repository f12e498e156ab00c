// Incremental updates: a snapshot derived with withPolicies/withWorld answers exactly like one
// built from scratch, and the old snapshot is unchanged (readers never see half a change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { createEngine, mergePolicySets, parseCases, parsePolicyText, trace, worldFromObject, type Engine, type PolicySet, type WorldInput } from '../../policy/index.js';

const dir = new URL('./fixtures/', import.meta.url);
// Fixtures whose rules deliberately conflict with another fixture's when merged into one set.
const SEPARATE = ['auth-modes.yaml'];
const baseWorld = parse(readFileSync(new URL('_world.yaml', dir), 'utf8')) as WorldInput;
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && !f.startsWith('_') && !SEPARATE.includes(f))
  .map((f) => parse(readFileSync(new URL(f, dir), 'utf8')) as { policies: string; world?: unknown; error?: string; cases: { id: string }[] })
  .filter((fx) => !fx.world && !fx.error);
const docs = fixtures.flatMap((fx) => fx.policies.split(/^---$/m).map((d) => d.trim()).filter(Boolean));
const sets = docs.map((d, i) => parsePolicyText(d, `doc${i}.yaml`));
const cases = parseCases(stringify(fixtures.flatMap((fx, j) => fx.cases.map((c) => ({ ...c, id: `${j}:${c.id}` })))), 'all');
const world = worldFromObject(baseWorld);

const verdicts = (e: Engine): string[] => trace(e, cases).map((r) => `${r.id} ${r.verdict} ${r.authRequired} ${r.l7} ${r.reason}`);
const without = (skip: number): PolicySet => mergePolicySets(sets.filter((_, i) => i !== skip));

test('withPolicies (add, remove, replace one document) equals a fresh engine; the old snapshot is intact', () => {
  const full = mergePolicySets(sets);
  const fresh = verdicts(createEngine({ policies: full, world }));
  for (const skip of [0, 3, Math.floor(sets.length / 2), sets.length - 1]) {
    const partial = createEngine({ policies: without(skip), world });
    const before = verdicts(partial);
    const added = partial.withPolicies(full);
    assert.deepEqual(verdicts(added), fresh, `adding document ${skip}`);
    assert.deepEqual(verdicts(partial), before, 'old snapshot unchanged');
    const removed = added.withPolicies(without(skip));
    assert.deepEqual(verdicts(removed), before, `removing document ${skip}`);
  }
});

test('withWorld (endpoint removed and re-added) equals a fresh engine', () => {
  const full = mergePolicySets(sets);
  const engine = createEngine({ policies: full, world });
  const reference = verdicts(engine);
  const eps = baseWorld.endpoints ?? [];
  const smaller = worldFromObject({ ...baseWorld, endpoints: eps.filter((e) => e.name !== 'other-0') });
  const shrunk = engine.withWorld(smaller);
  assert.equal(shrunk.endpointByIp('10.0.1.3'), null);
  const regrown = shrunk.withWorld(worldFromObject(baseWorld));
  assert.deepEqual(verdicts(regrown), reference);
  assert.equal(regrown.endpointByIp('10.0.1.3'), 'a/other-0');
});
