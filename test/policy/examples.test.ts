// The article's policies (config/examples/seed) behave as Cilium would - not as the article
// claims (policy-semantics §16) - and the corrected set (config/examples/corrected) does what the
// article meant. docs/policy-vs-article.md explains each row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { createEngine, lintPolicies, loadPolicies, loadWorld, parseCases, trace } from '../../policy/index.js';

const ex = (p: string): string => new URL(`../../config/examples/${p}`, import.meta.url).pathname;
const world = loadWorld(ex('world.yaml'));

const C = 'checkout/checkout-service-0';
const P = 'payments/payment-service-0';
const DNS = 'kube-system/coredns-0';
const OP = 'orders/order-processor-0';
const K = 'orders/kafka-0';

interface Row {
  id: string;
  from: unknown;
  to: unknown;
  port: number;
  protocol?: string;
  http?: unknown;
  kafka?: unknown;
  dns?: unknown;
  expect: 'allowed' | 'denied';
  /** Optional: expected verdict of one side. */
  side?: { ingress?: string; egress?: string };
  auth?: boolean;
}

function run(paths: string[], rows: Row[]): void {
  const engine = createEngine({ policies: loadPolicies(paths), world });
  const cases = parseCases(stringify(rows.map(({ expect, side, auth, ...c }) => c)), 'rows');
  const results = trace(engine, cases);
  for (const [i, r] of results.entries()) {
    const row = rows[i];
    assert.equal(r.verdict, row.expect, `${row.id}: ${r.reason}`);
    if (row.side?.ingress) assert.equal(r.ingress.verdict, row.side.ingress, `${row.id} ingress side: ${r.reason}`);
    if (row.side?.egress) assert.equal(r.egress.verdict, row.side.egress, `${row.id} egress side: ${r.reason}`);
    if (row.auth !== undefined) assert.equal(r.authRequired, row.auth, `${row.id} authRequired`);
  }
}

test('seed article policies: what Cilium really does (§16)', () => {
  run([ex('seed')], [
    // §16.1: the empty rules are default deny, not deny rules: the local host still reaches pods.
    { id: 'kubelet-probe', from: { entity: 'host' }, to: P, port: 8080, expect: 'allowed' },
    // §16.2: the CCNP {} selects CoreDNS too: pod DNS breaks despite allow-kube-dns.
    { id: 'dns-breaks', from: C, to: DNS, port: 53, protocol: 'UDP', dns: { query: 'payment-service.payments.svc.cluster.local' }, expect: 'denied', side: { egress: 'allowed', ingress: 'denied' } },
    // §16.3: the L7 CNP alone does not let checkout call payment-service: checkout egress is default deny.
    { id: 'checkout-get-blocked-by-own-egress', from: C, to: P, port: 8080, http: { method: 'GET', path: '/api/v1/payments/P123' }, expect: 'denied', side: { egress: 'denied', ingress: 'allowed' } },
    // §16.7: the NP's L4 allow for checkout on 8080 wildcards the CNP's HTTP rules on the ingress side.
    { id: 'np-lifts-l7-delete', from: C, to: P, port: 8080, http: { method: 'DELETE', path: '/api/v1/payments/P123' }, expect: 'denied', side: { ingress: 'allowed' } },
    // §16.4: toFQDNs policy lands in `default` (no namespace) and DNS never learns the name anyway.
    { id: 'stripe-blocked', from: P, to: { fqdn: 'api.stripe.com' }, port: 443, expect: 'denied' },
    // §16.13: allow-apiserver without ports allows the backend port 6443 as well as 443.
    { id: 'apiserver-6443', from: P, to: { entity: 'kube-apiserver' }, port: 6443, expect: 'allowed' },
    // §16.12: monitoring -> payment-service is not FORWARDED under the article's own policies.
    { id: 'monitoring-denied', from: 'kube-system/monitoring-0', to: P, port: 9090, expect: 'denied' },
    { id: 'rogue-denied', from: 'payments/rogue-service-0', to: P, port: 8080, expect: 'denied' },
  ]);
});

test('corrected policies do what the article meant', () => {
  run([ex('corrected')], [
    { id: 'get-payment', from: C, to: P, port: 8080, http: { method: 'GET', path: '/api/v1/payments/P123' }, expect: 'allowed' },
    { id: 'post-payment', from: C, to: P, port: 8080, http: { method: 'POST', path: '/api/v1/payments' }, expect: 'allowed' },
    { id: 'delete-payment', from: C, to: P, port: 8080, http: { method: 'DELETE', path: '/api/v1/payments/P123' }, expect: 'denied' },
    { id: 'admin', from: C, to: P, port: 8080, http: { method: 'GET', path: '/admin/users' }, expect: 'denied' },
    { id: 'produce-processed', from: OP, to: K, port: 9092, kafka: { apiKey: 'produce', apiVersion: 8, topic: 'orders.processed' }, expect: 'allowed' },
    { id: 'consume-created', from: OP, to: K, port: 9092, kafka: { apiKey: 'fetch', apiVersion: 6, topic: 'orders.created' }, expect: 'allowed' },
    { id: 'produce-payment-events', from: OP, to: K, port: 9092, kafka: { apiKey: 'produce', apiVersion: 8, topic: 'payment-events' }, expect: 'denied' },
    { id: 'dns-works', from: C, to: DNS, port: 53, protocol: 'UDP', dns: { query: 'payment-service.payments.svc.cluster.local' }, expect: 'allowed' },
    { id: 'stripe-dns', from: P, to: DNS, port: 53, protocol: 'UDP', dns: { query: 'api.stripe.com' }, expect: 'allowed' },
    // DNS rules are a union (§7): allow-kube-dns's matchPattern "*" covers every name for every pod.
    { id: 'other-dns-union', from: P, to: DNS, port: 53, protocol: 'UDP', dns: { query: 'evil.example.com' }, expect: 'allowed' },
    { id: 'stripe', from: P, to: { fqdn: 'api.stripe.com' }, port: 443, expect: 'allowed' },
    { id: 'other-world', from: P, to: { ip: '1.1.1.1' }, port: 443, expect: 'denied' },
    { id: 'apiserver', from: C, to: { entity: 'kube-apiserver' }, port: 6443, expect: 'allowed' },
    { id: 'kubelet', from: { entity: 'host' }, to: P, port: 8080, expect: 'allowed' },
    { id: 'rogue', from: 'payments/rogue-service-0', to: P, port: 8080, expect: 'denied' },
  ]);
});

test('mutual auth example: checkout requires auth, world never authenticates (§13, §16.10)', () => {
  run([ex('corrected'), ex('auth')], [
    { id: 'checkout-auth', from: C, to: P, port: 8080, http: { method: 'GET', path: '/api/v1/payments/1' }, expect: 'allowed', auth: true },
  ]);
});

test('validate warns about the article traps in the seed set, not in the corrected set', () => {
  const seed = lintPolicies(loadPolicies([ex('seed')]), world).map((l) => l.code);
  assert.ok(seed.includes('kube-dns-default-deny'), seed.join());
  assert.ok(seed.includes('fqdn-without-dns-rule'), seed.join());
  assert.ok(seed.includes('l7-wildcarded'), seed.join());
  const fixed = lintPolicies(loadPolicies([ex('corrected')]), world).map((l) => l.code);
  assert.deepEqual(fixed, []);
});
