/**
 * resolvePolicy and dropEventToFlow without the kernel: entries come from the real policy engine
 * (shop world: client -> web 8080 L4 allow, 8081 HTTP, 9090 ingressDeny, the rest default deny).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePolicy } from './resolve.js';
import { dropEventToFlow } from './drop-flow.js';
import { shopEngine, shopAuthEngine, SHOP_PORTS, SHOP_AUTH_PORTS } from '../test/helpers/shop-policy.js';

const eps = [
  { name: 'shop/client', ip: '10.250.1.2', identity: 1001, epId: 1 },
  { name: 'shop/web', ip: '10.250.2.2', identity: 1002, epId: 2 },
];

test('resolvePolicy: allow, redirect, explicit deny, default deny (no entry), enforcement', () => {
  const engine = shopEngine(eps[0]!.ip, eps[1]!.ip);
  const r = resolvePolicy(engine, eps, SHOP_PORTS, { proxyFor: (dst, p) => ({ ip: '10.250.2.1', port: 15000 + p.port - 8000 }) });
  const web = r.endpoints.get(2)!;
  assert.equal(web.enforce, true);
  const fromClient = web.entries.filter((e) => e.identity === 1001).map((e) => `${e.port}:${e.verdict}:${e.policy ?? ''}`).sort();
  assert.deepEqual(fromClient, ['8080:allow:shop/web-ingress', '8081:redirect:shop/web-ingress', '9090:deny:shop/deny-admin']);
  assert.ok(!web.entries.some((e) => e.port === 7070), 'default deny is a miss, not an entry');
  assert.ok(!web.entries.some((e) => e.identity === 2 && e.verdict !== 'deny'), 'world gets nothing');
  assert.deepEqual(r.redirects, [
    { srcIdentity: 1001, dstIdentity: 1002, port: 8081, proto: 6, proxyIp: '10.250.2.1', proxyPort: 15081, policy: 'shop/web-ingress' },
  ]);
  // client is selected by no ingress policy: not enforced, no entries
  assert.deepEqual(r.endpoints.get(1), { enforce: false, entries: [] });
});

test('resolvePolicy without a proxy for an L7 port falls back to an L4 allow', () => {
  const engine = shopEngine(eps[0]!.ip, eps[1]!.ip);
  const r = resolvePolicy(engine, eps, SHOP_PORTS, { proxyFor: () => null });
  assert.ok(r.endpoints.get(2)!.entries.some((e) => e.port === 8081 && e.verdict === 'allow'));
  assert.deepEqual(r.redirects, []);
});

test('resolvePolicy: authentication required becomes an auth entry (L4) and stays a redirect (L7)', () => {
  const engine = shopAuthEngine(eps[0]!.ip, eps[1]!.ip);
  const withProxy = resolvePolicy(engine, eps, SHOP_AUTH_PORTS, { proxyFor: () => ({ ip: '10.250.2.1', port: 15082 }) });
  const entries = (r: typeof withProxy, id: number) => r.endpoints.get(2)!.entries.filter((e) => e.identity === id).map((e) => `${e.port}:${e.verdict}:${e.policy ?? ''}`).sort();
  assert.equal(withProxy.endpoints.get(2)!.enforce, true);
  assert.deepEqual(entries(withProxy, 1001), ['6060:auth:shop/web-mutual-auth', '8082:redirect:shop/web-mutual-auth']);
  assert.deepEqual(entries(withProxy, 2), [], 'world is default-denied (no rule allows it)');
  const noProxy = resolvePolicy(engine, eps, SHOP_AUTH_PORTS, { proxyFor: () => null });
  assert.deepEqual(entries(noProxy, 1001), ['6060:auth:shop/web-mutual-auth', '8082:auth:shop/web-mutual-auth'], 'no proxy: the L7 port is refused at L4 too');
});

test('dropEventToFlow names reason and policy; default deny is named default-deny', () => {
  const ctx = {
    policyName: (id: number) => (id === 3 ? 'shop/deny-admin' : undefined),
    endpointByIp: (ip: string) => (ip === '10.250.1.2' ? 'shop/client' : ip === '10.250.2.2' ? 'shop/web' : null),
    nodeName: 'n1',
  };
  const base = { tsNs: 1n, saddr: '10.250.1.2', daddr: '10.250.2.2', sport: 40000, dport: 9090, proto: 6, dir: 0, srcIdentity: 1001, dstIdentity: 1002, ifindex: 2 };
  const f = dropEventToFlow({ ...base, reason: 181, policyId: 3 }, ctx);
  assert.equal(f.verdict, 'DROPPED');
  assert.equal(f.drop_reason_desc, 'POLICY_DENY');
  assert.deepEqual(f.event_type, { type: 1, sub_type: 181 });
  assert.deepEqual(f.ingress_denied_by, [{ namespace: 'shop', name: 'deny-admin' }]);
  assert.deepEqual(f.l4, { TCP: { source_port: 40000, destination_port: 9090 } });
  assert.equal(f.source?.pod_name, 'client');
  assert.equal(f.destination?.namespace, 'shop');
  assert.equal(f.traffic_direction, 'INGRESS');
  const g = dropEventToFlow({ ...base, saddr: '192.0.2.1', srcIdentity: 2, proto: 17, reason: 133, policyId: 0 }, ctx);
  assert.equal(g.drop_reason_desc, 'POLICY_DENIED');
  assert.deepEqual(g.ingress_denied_by, [{ name: 'default-deny' }]);
  assert.deepEqual(g.source, { identity: 2, labels: ['reserved:world'] });
  // An egress drop (pod -> never-learned world address): EGRESS, egress_denied_by.
  const e = dropEventToFlow({ ...base, daddr: '52.1.1.9', dstIdentity: 2, dport: 443, reason: 133, policyId: 0, dir: 1 }, ctx);
  assert.equal(e.traffic_direction, 'EGRESS');
  assert.deepEqual(e.egress_denied_by, [{ name: 'default-deny' }]);
  assert.equal(e.ingress_denied_by, undefined);
  assert.equal(e.source?.pod_name, 'client');
  assert.deepEqual(e.destination, { identity: 2, labels: ['reserved:world'] });
  assert.deepEqual(g.l4, { UDP: { source_port: 40000, destination_port: 9090 } });
});
