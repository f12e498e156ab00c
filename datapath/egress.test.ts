/**
 * Egress entries from the real policy engine and learned names, applied to in-memory maps
 * (docs/dns.md "Datapath"): the seed's payment-service egress (DNS to kube-dns, toFQDNs
 * api.stripe.com:443) allows the DNS server and exactly the learned addresses; a name's
 * addresses get local identities; expiry withdraws them and only the difference is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, parsePolicyText, worldFromObject } from '../policy/index.js';
import { POLICY_EGRESS, EP_FLAGS } from '../native/index.js';
import { MemoryMaps } from './map-source.js';
import { PolicyMapSync } from './policy-maps.js';
import { EgressSync, FIRST_LOCAL_IDENTITY, resolveEgress } from './egress.js';

const world = worldFromObject({
  namespaces: [{ name: 'payments' }, { name: 'kube-system' }],
  endpoints: [
    { name: 'payment-service-0', namespace: 'payments', labels: { app: 'payment-service' }, ips: ['10.250.1.2'] },
    { name: 'coredns-0', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ips: ['10.250.3.2'] },
  ],
});
const policies = parsePolicyText(
  `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: payment-service-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]
      rules: {dns: [{matchName: "api.stripe.com"}]}
  - toFQDNs: [{matchName: "api.stripe.com"}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
`,
  'egress.yaml',
);
const EPS = [
  { name: 'payments/payment-service-0', ip: '10.250.1.2', identity: 1001, epId: 1 },
  { name: 'kube-system/coredns-0', ip: '10.250.3.2', identity: 1002, epId: 2 },
];
const PORTS = [
  { port: 53, protocol: 'UDP' as const },
  { port: 53, protocol: 'TCP' as const },
  { port: 443, protocol: 'TCP' as const },
];

test('resolveEgress: DNS server and learned addresses allowed, world not; unselected endpoints not enforced', () => {
  const learned = new Map([['api.stripe.com.', ['52.1.1.1', '52.1.1.2']]]);
  const engine = createEngine({ policies, world }).withLearnedFqdns(learned);
  const L1 = FIRST_LOCAL_IDENTITY + 1;
  const r = resolveEgress(engine, EPS, [{ ref: { ip: '52.1.1.1' }, identity: L1 }, { ref: { ip: '52.9.9.9' }, identity: L1 + 1 }], PORTS);
  const pay = r.get(1)!;
  assert.equal(pay.enforce, true);
  assert.deepEqual(pay.entries.map((e) => `${e.identity}:${e.port}/${e.proto}:${e.verdict}`).sort(), ['1002:53/17:allow', '1002:53/6:allow', `${L1}:443/6:allow`].sort());
  assert.deepEqual(r.get(2), { enforce: false, entries: [] });
});

test('EgressSync: identities for learned addresses, incremental entries, expiry withdraws', () => {
  const mem = new MemoryMaps();
  const maps = new PolicyMapSync(mem);
  const sync = new EgressSync(maps, EPS, PORTS);
  const base = createEngine({ policies, world });
  sync.apply(base, new Map());
  const ep = mem.map('tendril_endpoint').get('10.250.1.2')!;
  assert.equal(ep.flags & EP_FLAGS.ENFORCE_EGRESS, EP_FLAGS.ENFORCE_EGRESS);
  const key443 = (identity: number) => ({ epId: 1 + POLICY_EGRESS, identity, port: 443, proto: 6 });
  assert.equal(mem.map('tendril_policy').keys().filter((k) => k.port === 443).length, 0, 'nothing learned: no 443 entry');

  const learned = new Map([['api.stripe.com.', ['52.1.1.1']]]);
  const before = maps.writes;
  sync.apply(base.withLearnedFqdns(learned), learned);
  const id = mem.map('tendril_ipcache').get('52.1.1.1')!.identity;
  assert.ok(id > FIRST_LOCAL_IDENTITY);
  assert.equal(mem.map('tendril_policy').get(key443(id))?.verdict, 1);
  assert.equal(maps.writes - before, 2, 'one ipcache entry + one policy entry');

  // Same names again: nothing written.
  const w = maps.writes;
  sync.apply(base.withLearnedFqdns(learned), learned);
  assert.equal(maps.writes, w);

  // Expired: the address leaves the ipcache (world again) and its entry goes.
  sync.apply(base, new Map());
  assert.equal(mem.map('tendril_ipcache').get('52.1.1.1'), null);
  assert.equal(mem.map('tendril_policy').get(key443(id)), null);
});
