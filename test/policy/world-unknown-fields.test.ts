import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWorld } from '../../policy/index.js';

test('unknown world.yaml fields are ignored with a located warning; invalid values stay errors', () => {
  const w = parseWorld('endpoints:\n  - name: a\n    namespace: x\n    ips: [10.0.0.1]\n    containerPorts: []\nextra: 1\n', 'w.yaml');
  assert.equal(w.endpoints.length, 1);
  assert.deepEqual(
    w.warnings.map((m) => m.replace(/ \(known: [^)]*\)/, '')),
    ['w.yaml: extra: unknown field ignored (line 6, column 8)', 'w.yaml: endpoints[0].containerPorts: unknown field ignored (line 5, column 21)'],
  );
  assert.throws(() => parseWorld('endpoints:\n  - name: a\n    namespace: x\n    ips: [not-an-ip]\n', 'w.yaml'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'TND_WORLD_INVALID');
    assert.match(err.message, /w\.yaml document 1: endpoints\[0\]\.ips\[0\]/);
    return true;
  });
});
