// Unit tables for the value modules: CIDR parsing/containment, DNS patterns, RE2 matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContainsCidr, cidrContainsIp, parseCidr, parseIp } from './cidr.js';
import { compileMatchPattern, compileMatchName, checkFqdn, normalizeName } from './fqdn.js';
import { compileRe2, defaultRegexEngine } from './regex.js';

test('cidr: parse and contain (v4, v6, bare IP)', () => {
  const rows: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.255.1.1', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['192.168.1.7', '192.168.1.7', true],
    ['192.168.1.7', '192.168.1.8', false],
    ['0.0.0.0/0', '1.2.3.4', true],
    ['2001:db8::/32', '2001:db8:1::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::/0', '10.0.0.1', false],
  ];
  for (const [c, ip, want] of rows) assert.equal(cidrContainsIp(parseCidr(c)!, parseIp(ip)!), want, `${c} ∋ ${ip}`);
  for (const bad of ['10.0.0.0/33', '256.0.0.1', '1.2.3', 'x', '2001:db8:::1/64', '10.0.0.0/']) assert.equal(parseCidr(bad), null, bad);
  assert.ok(cidrContainsCidr(parseCidr('10.0.0.0/8')!, parseCidr('10.1.0.0/16')!));
  assert.ok(!cidrContainsCidr(parseCidr('10.1.0.0/16')!, parseCidr('10.0.0.0/8')!));
});

test('fqdn: names and patterns (§10.1)', () => {
  assert.equal(normalizeName('API.Stripe.com'), 'api.stripe.com.');
  const rows: [string, string, boolean][] = [
    ['*.stripe.com', 'api.stripe.com', true],
    ['*.stripe.com', 'stripe.com', false],
    ['*.stripe.com', 'a.b.stripe.com', false],
    ['part*ial.com', 'partial.com', true],
    ['*stripe.com', 'stripe.com', true],
    ['*stripe.com', 'xstripe.com', true],
    ['*stripe.com', 'api.stripe.com', false],
    ['**.stripe.com', 'a.b.stripe.com', true],
    ['**.stripe.com', 'api.stripe.com', true],
    ['**.stripe.com', 'stripe.com', false],
    ['*', 'anything.at.all', true],
    ['API.stripe.COM', 'api.stripe.com', true],
  ];
  for (const [p, n, want] of rows) assert.equal(compileMatchPattern(p)(normalizeName(n)), want, `${p} vs ${n}`);
  assert.ok(compileMatchName('api.stripe.com.')(normalizeName('API.STRIPE.COM')));
  assert.ok(checkFqdn('a b', false));
  assert.ok(checkFqdn('x'.repeat(256), false));
  assert.equal(checkFqdn('*.ok.com', true), null);
  assert.ok(checkFqdn('*.ok.com', false));
});

test('regex: anchored full match with RE2 syntax, both engines', () => {
  for (const engine of ['js', 're2'] as const) {
    const m = (p: string, v: string): boolean => {
      const c = compileRe2(p, engine);
      assert.notEqual(typeof c, 'string', `${p}: ${String(c)}`);
      return (c as { matcher: (s: string) => boolean }).matcher(v);
    };
    assert.ok(m('/api/v1/payments', '/api/v1/payments'));
    assert.ok(!m('/api/v1/payments', '/api/v1/payments/'));
    assert.ok(!m('/api/v1/payments', '/api/v1/payments?x=1'));
    assert.ok(m('/api/v1/payments$', '/api/v1/payments'));
    assert.ok(!m('GET|HEAD', 'GETX'));
    assert.ok(!m('/public|/status', '/public/x'));
    assert.ok(m('(?i)get', 'GET'));
    assert.ok(!m('GET', 'get'));
    assert.ok(m('(?P<id>[0-9]+)', '123'));
    assert.ok(m('foo.bar.com', 'fooXbar.com'));
    for (const bad of ['(', '*GET', '/(?=x)', '(a)\\1']) assert.equal(typeof compileRe2(bad, engine), 'string', `${engine} rejects ${bad}`);
  }
});

test('regex: the re2 engine really is Google RE2 (the native module loads; no JS fallback)', () => {
  assert.equal(defaultRegexEngine, 're2', 'the re2 package is a dependency: its native module must load');
  // A pattern not proven linear (nested quantifier) stays on RE2 (regex-class.ts sends proven-linear
  // ones to V8), and RE2 answers it in linear time where a backtracking engine would not.
  const c = compileRe2('(a+)+b', 're2');
  assert.equal(typeof c, 'object');
  assert.equal((c as { engine: string }).engine, 're2');
  assert.equal((c as { matcher: (v: string) => boolean }).matcher(`${'a'.repeat(40)}c`), false);
  // Behaviour only RE2 has: a repeat count above 1000 is a compile error in RE2, legal in JS.
  assert.equal(typeof compileRe2('a{1001}', 're2'), 'string', 'RE2 rejects a{1001}');
  assert.equal(typeof compileRe2('a{1001}', 'js'), 'object', 'JS RegExp accepts a{1001}');
});
