/** FqdnCache (docs/dns.md "Learning"): min-TTL, per-name cap with oldest-first eviction, grace, publish only on change. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FqdnCache } from './fqdn-cache.js';

test('min-TTL raises short TTLs; expiry is swept against the injected clock', async () => {
  const clock = { now: 1_000_000 };
  const c = new FqdnCache({ now: () => clock.now, minTtlSeconds: 30 });
  await c.learn('a/p', 'short.example.', ['10.0.0.1'], 1);
  assert.equal(c.list()[0]!.ips[0]!.ttl, 30);
  clock.now += 29_000;
  assert.equal(await c.sweep(), 0);
  clock.now += 1_000;
  assert.equal(await c.sweep(), 1);
  assert.equal(c.names().size, 0);
});

test('per-name cap evicts the oldest IPs of that (endpoint, name) first', async () => {
  const clock = { now: 0 };
  const c = new FqdnCache({ now: () => clock.now, maxIpsPerName: 3 });
  for (let i = 1; i <= 5; i++) {
    clock.now += 1000;
    await c.learn('a/p', 'cdn.example.', [`10.0.0.${i}`], 60);
  }
  assert.deepEqual(c.names().get('cdn.example.'), ['10.0.0.3', '10.0.0.4', '10.0.0.5']);
  // Another endpoint's entries for the same name are its own: the union holds both.
  await c.learn('b/q', 'cdn.example.', ['10.0.0.1'], 60);
  assert.deepEqual(c.names().get('cdn.example.'), ['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
});

test('listeners hear a change once; a refresh of known IPs publishes nothing; clean empties', async () => {
  const c = new FqdnCache();
  const seen: number[] = [];
  c.onChange((names) => void seen.push(names.size));
  await Promise.all([c.learn('a/p', 'x.example.', ['1.1.1.1'], 60), c.learn('a/p', 'y.example.', ['2.2.2.2'], 60)]);
  assert.deepEqual(seen, [2], 'one publish for both answers of the same turn');
  assert.equal(c.learn('a/p', 'x.example.', ['1.1.1.1'], 60), null);
  assert.equal(await c.clean(), 2);
  assert.deepEqual(seen, [2, 0]);
});
