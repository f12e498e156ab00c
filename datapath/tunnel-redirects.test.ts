/**
 * authPorts and tunnelRedirects with the real policy engine: which (destination, port) pairs the
 * datapath sends to the outbound tunnel listener on node-a (docs/identity.md "Transparent
 * connections"). checkout (node-a) -> pay (node-b) 8080 and -> ledger (node-a) 9090 require
 * authentication; pay 8081 is allowed without it; 7000-7001 is an authenticated range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, endpointIdentityNumbers, parsePolicyText, parseWorld } from '../policy/index.js';
import { authPorts, tunnelRedirects, unredirectableAuthRules } from './tunnel-redirects.js';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: pay, namespace: p}
spec:
  endpointSelector: {matchLabels: {app: pay}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: checkout}}]
    authentication: {mode: required}
    toPorts: [{ports: [{port: "8080", protocol: TCP}, {port: "7000", endPort: 7001, protocol: TCP}, {port: "53", protocol: UDP}]}]
  - fromEndpoints: [{matchLabels: {app: checkout}}]
    toPorts: [{ports: [{port: "8081", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ledger, namespace: p}
spec:
  endpointSelector: {matchLabels: {app: ledger}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: checkout}}]
    authentication: {mode: required}
    toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
`;
const WORLD = `namespaces: [{name: p}]
endpoints:
  - {name: pay, namespace: p, labels: {app: pay}, ips: [10.0.2.10], node: node-b}
  - {name: checkout, namespace: p, labels: {app: checkout}, ips: [10.0.1.20], node: node-a}
  - {name: ledger, namespace: p, labels: {app: ledger}, ips: [10.0.1.30], node: node-a}
nodes:
  - {name: node-a, address: 10.0.1.2}
  - {name: node-b, address: 10.0.2.2}
`;

const policies = parsePolicyText(POLICY, 'policy.yaml');
const world = parseWorld(WORLD, 'world.yaml');
const engine = createEngine({ policies, world });
const ids = endpointIdentityNumbers(world);

test('authPorts: TCP ports of authenticated allow entries, ranges expanded, UDP and plain rules left out', () => {
  assert.deepEqual(authPorts(policies.rules), [7000, 7001, 8080, 9090]);
});

test('tunnelRedirects: one any-source entry per authenticated (destination, port) reachable from this node', () => {
  const rows = (node: string) =>
    tunnelRedirects({ engine, world, nodeName: node, ids, ports: authPorts(policies.rules), listen: { ip: '10.0.1.2', port: 15001 } })
      .map((r) => {
        assert.equal(r.srcIdentity, 0);
        assert.equal(r.proxyIp, '10.0.1.2');
        assert.equal(r.proxyPort, 15001);
        const dst = [...ids].find(([, v]) => v.identity === r.dstIdentity)![0];
        return `${dst}:${r.port}:${r.policy}`;
      })
      .sort();
  assert.deepEqual(rows('node-a'), ['p/ledger:9090:p/ledger', 'p/pay:7000:p/pay', 'p/pay:7001:p/pay', 'p/pay:8080:p/pay']);
  // node-b hosts no source that the rules allow: nothing to redirect there.
  assert.deepEqual(rows('node-b'), []);
});

test('unredirectableAuthRules names authenticated entries on any port, L3-only or wide ranges', () => {
  const set = parsePolicyText(
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: wide, namespace: p}
spec:
  endpointSelector: {matchLabels: {app: pay}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: checkout}}]
    authentication: {mode: required}
  - fromEndpoints: [{matchLabels: {app: checkout}}]
    authentication: {mode: required}
    toPorts: [{ports: [{port: "1000", endPort: 5000, protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: checkout}}]
    authentication: {mode: required}
    toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: checkout}}]
    toPorts: [{ports: [{port: "0", protocol: TCP}]}]
`,
    'wide.yaml',
  );
  assert.deepEqual(unredirectableAuthRules(set.rules), ['p/wide ingress[0]', 'p/wide ingress[1]']);
  assert.deepEqual(unredirectableAuthRules(policies.rules), []);
});
