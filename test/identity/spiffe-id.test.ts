/** `tendril identity parse-id` and parseSpiffeId: the SPIFFE ID rules of docs/identity.md, one subtest per row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { runCli } from '../../agent/cli/main.js';
import { parseSpiffeId, normalizeTrustDomain, namespaceAndServiceAccount } from '../../identity/index.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await runCli(args, { stdout: out, stderr: err });
  return { code, stdout, stderr };
}

const VALID: [string, string, string][] = [
  ['spiffe://example.org', 'example.org', ''],
  ['spiffe://example.org/ns/payments/sa/payment-service', 'example.org', '/ns/payments/sa/payment-service'],
  ['spiffe://cluster.local/Upper/Case_ok-1.2', 'cluster.local', '/Upper/Case_ok-1.2'],
  ['spiffe://example.org/...', 'example.org', '/...'],
  ['spiffe://192.168.1.1/x', '192.168.1.1', '/x'],
  ['spiffe://example.org./x', 'example.org.', '/x'],
  ['spiffe://a_b-c.d/x', 'a_b-c.d', '/x'],
];

const INVALID: [string, RegExp][] = [
  ['', /empty/],
  ['example.org/x', /scheme/],
  ['SPIFFE://example.org/x', /scheme/],
  ['spiffe:/example.org/x', /scheme/],
  ['https://example.org/x', /scheme/],
  ['spiffe://', /trust domain is missing/],
  ['spiffe:///x', /trust domain is missing/],
  ['spiffe://Example.org/x', /trust domain character "E"/],
  ['spiffe://user@example.org/x', /trust domain character "@"/],
  ['spiffe://example.org:8080/x', /trust domain character ":"/],
  ['spiffe://[::1]/x', /trust domain character "\["/],
  ['spiffe://exa%6dple.org/x', /trust domain character "%"/],
  [`spiffe://${'a'.repeat(256)}/x`, /longer than 255/],
  ['spiffe://example.org/', /trailing slash/],
  ['spiffe://example.org/a/', /trailing slash/],
  ['spiffe://example.org//a', /empty segments/],
  ['spiffe://example.org/a/./b', /dot segments/],
  ['spiffe://example.org/a/..', /dot segments/],
  ['spiffe://example.org/a%20b', /path character "%"/],
  ['spiffe://example.org/a?b', /path character "\?"/],
  ['spiffe://example.org/a#b', /path character "#"/],
  ['spiffe://example.org/a b', /path character " "/],
  [`spiffe://example.org/${'a'.repeat(2040)}`, /longer than 2048/],
];

test('valid SPIFFE IDs', async (t) => {
  for (const [id, td, path] of VALID) {
    await t.test(id, async () => {
      assert.deepEqual(parseSpiffeId(id), { id, trustDomain: td, path });
      const r = await cli(['identity', 'parse-id', id]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { id, trustDomain: td, path });
    });
  }
});

test('invalid SPIFFE IDs', async (t) => {
  for (const [id, why] of INVALID) {
    await t.test(JSON.stringify(id.slice(0, 60)), async () => {
      assert.throws(() => parseSpiffeId(id), why);
      const r = await cli(['identity', 'parse-id', id]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^invalid SPIFFE ID: .+\n$/);
      assert.match(r.stderr, why);
    });
  }
});

test('trust domain keys and ns/sa paths', () => {
  assert.equal(normalizeTrustDomain('spiffe://example.org'), 'example.org');
  assert.equal(normalizeTrustDomain('example.org'), 'example.org');
  assert.throws(() => normalizeTrustDomain('spiffe://example.org/x'), /no path/);
  assert.deepEqual(namespaceAndServiceAccount(parseSpiffeId('spiffe://td/ns/payments/sa/checkout')), { namespace: 'payments', serviceAccount: 'checkout' });
  assert.equal(namespaceAndServiceAccount(parseSpiffeId('spiffe://td/ns/payments')), null);
});
