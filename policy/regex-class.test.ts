/**
 * The regex classifier: one subtest per row (pattern -> class), and for every `linear` row the
 * V8 translation gives RE2's answer on a set of probe inputs, including adversarial ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { classifyRegex, linearRegExp, type RegexClass } from './regex-class.js';
import { compileRe2 } from './regex.js';

const rows: Array<[string, RegexClass]> = [
  ['/api/v1/payments/.*', 'linear'],
  ['^/api/v1/payments$', 'linear'],
  ['/api/v1/payments', 'linear'],
  ['/users/[0-9]+', 'linear'],
  ['/users/[0-9]+/orders/[a-f0-9]{8,32}', 'linear'],
  ['/v[12]/items/\\d+\\.json', 'linear'],
  ['/files/[^/]+/raw', 'linear'],
  ['/a{3}b*', 'linear'],
  ['/x-[a-z]+-y', 'linear'],
  ['/static/.*\\.css', 'backtracking-risk'], // .* overlaps the next literal
  ['/a*a*', 'backtracking-risk'],
  ['/[a-z]+[0-9]+', 'backtracking-risk'], // quantifier followed by a class, not a literal
  ['/(a+)+', 'backtracking-risk'],
  ['/(a|b)*', 'backtracking-risk'],
  ['/api/(v1|v2)/x', 'backtracking-risk'],
  ['/a|/b', 'backtracking-risk'],
  ['(?i)/api/.*', 'backtracking-risk'],
  ['/a?a', 'backtracking-risk'],
  ['/\\s+x', 'backtracking-risk'],
  ['/[[:alpha:]]+', 'backtracking-risk'],
  ['/a**', 'backtracking-risk'],
  ['/x.*y.*z', 'backtracking-risk'],
];

const RE2 = (() => {
  try {
    return createRequire(import.meta.url)('re2') as new (p: string) => { test(s: string): boolean };
  } catch {
    return null;
  }
})();

const probes = ['', '/', '/api/v1/payments', '/api/v1/payments/', '/api/v1/payments/123', '/api/v1/payments/a/b', '/API/v1/payments/1', '/users/42', '/users/42/orders/deadbeef', '/users/x', '/v1/items/7.json', '/v3/items/7.json', '/files/a/raw', '/files/a/b/raw', '/aaab', '/aaa', '/x-abc-y', '/x--y', `/${'a'.repeat(5000)}!`, '/users/\u00e9', '/api/v1/payments/\n', '/api/v1/payments/\r', '/api/v1/payments/\u{1F600}'];

for (const [pattern, expected] of rows) {
  test(`classify ${JSON.stringify(pattern)} -> ${expected}`, () => {
    const c = classifyRegex(pattern);
    assert.equal(c.class, expected, c.reason);
    const re = linearRegExp(pattern);
    if (expected !== 'linear') {
      assert.equal(re, null);
      return;
    }
    assert.ok(re, 'a linear pattern translates to a V8 RegExp');
    if (!RE2) return;
    const ref = new RE2(`^(?:${pattern})$`);
    for (const p of probes) assert.equal(re.test(p), ref.test(p), `probe ${JSON.stringify(p.slice(0, 40))}`);
  });
}

test('compileRe2 routes linear patterns to V8 and keeps RE2 for the rest (same answers)', () => {
  const lin = compileRe2('/api/v1/payments/.*');
  const risky = compileRe2('/(a+)+');
  assert.ok(typeof lin !== 'string' && typeof risky !== 'string');
  assert.equal(lin.engine, 'js');
  assert.equal(risky.engine, RE2 ? 're2' : 'js');
  assert.equal(lin.matcher('/api/v1/payments/1'), true);
  assert.equal(lin.matcher('/api/v1/payment'), false);
  // Invalid RE2 syntax stays an error whichever engine would match it.
  assert.equal(typeof compileRe2('/a{2,1}'), 'string');
});
