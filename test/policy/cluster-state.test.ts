// Cluster-state selectors (shared spec cluster-state-selectors.md, copied into docs/policy.md):
// named ports from container ports, toServices (selector and selector-less services), fromNodes/
// toNodes and remote-node with node labels, service destinations in trace cases. One subtest per
// row so every failing row is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { createEngine, parseCases, parsePolicyText, parseWorld, trace } from '../../policy/index.js';
import { isTendrilError } from '../../core/index.js';

const WORLD = `
namespaces: [{name: a}, {name: b}]
endpoints:
  - {name: web-0, namespace: a, labels: {app: web}, ips: [10.1.0.1]}
  - {name: api-0, namespace: a, labels: {app: api}, ips: [10.1.0.2], ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}
  - {name: api-1, namespace: a, labels: {app: api}, ips: [10.1.0.3], ports: [{name: http, containerPort: 8080}]}
  - {name: db-0, namespace: a, labels: {app: db}, ips: [10.1.0.4], ports: [{name: metrics, containerPort: 9100}, {name: pg, containerPort: 5432}]}
  - {name: db-1, namespace: b, labels: {app: db}, ips: [10.1.0.5], ports: [{name: metrics, containerPort: 9200}]}
  - {name: api-0, namespace: b, labels: {app: api}, ips: [10.1.0.6]}
  - {name: plain-0, namespace: a, labels: {app: plain}, ips: [10.1.0.7]}
services:
  - {name: api, namespace: a, labels: {tier: backend}, selector: {app: api}, clusterIP: 10.96.0.10, ports: [{name: http, port: 80, targetPort: 8080}]}
  - {name: api-named, namespace: a, selector: {app: api}, clusterIP: 10.96.0.11, ports: [{port: 81, targetPort: http}]}
  - {name: db, namespace: b, labels: {tier: backend}, selector: {app: db}, ports: [{port: 9200}]}
  - {name: legacy, namespace: b, labels: {tier: backend}, endpoints: [192.0.2.10], clusterIP: 10.96.0.12, ports: [{port: 5432}]}
nodes:
  - {name: node-a, labels: {zone: a}, address: 10.0.0.100}
  - {name: node-b, labels: {zone: b, pool: gpu}, address: 10.0.0.102}
  - {name: node-c, labels: {zone: c}, address: 10.0.0.103}
entities:
  host: [10.0.0.100]
  remote-node: [10.0.0.101]
  kube-apiserver: [10.0.0.1]
`;

const POLICIES = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-in, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: http, protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: pg}]}]
  - fromNodes: [{matchLabels: {zone: b}}]
    toPorts: [{ports: [{port: "9999", protocol: TCP}]}]
  - fromEntities: [remote-node]
    toPorts: [{ports: [{port: "9998", protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: dns, protocol: TCP}]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: nosuchname, protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-out, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toEndpoints: [{matchLabels: {app: plain}}]
    toPorts: [{ports: [{port: pg, protocol: TCP}]}]
  - toEndpoints: [{matchLabels: {app: plain}}]
    toPorts: [{ports: [{port: metrics, protocol: TCP}]}]
  - toServices: [{k8sService: {serviceName: api, namespace: a}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  - toServices: [{k8sService: {serviceName: legacy}}]
  - toNodes: [{matchLabels: {pool: gpu}}]
  - toNodes: [{matchLabels: {k8s:zone: c}}]
  - toServices: [{k8sServiceSelector: {selector: {matchLabels: {tier: backend}}, namespace: a}}]
    toPorts: [{ports: [{port: "7000", protocol: TCP}]}]
`;

interface Row {
  id: string;
  from: unknown;
  to: unknown;
  port: number;
  protocol?: string;
  expect: 'allowed' | 'denied';
  why: string;
  /** Check only this side's verdict (the other side has its own policies). */
  side?: 'egress' | 'ingress';
  backend?: { name: string; port: number };
}

const ROWS: Row[] = [
  // Named ports (N3-N6).
  { id: 'np-ingress-own-port', from: 'a/web-0', to: 'a/api-0', port: 8080, expect: 'allowed', why: 'N3: http resolves to the subject pod 8080' },
  { id: 'np-ingress-other-number', from: 'a/web-0', to: 'a/api-0', port: 80, expect: 'denied', why: 'N3: only the resolved number' },
  { id: 'np-ingress-name-only-elsewhere', from: 'a/web-0', to: 'a/api-0', port: 5432, expect: 'denied', why: 'N3: pg is defined by db-0, not by the subject' },
  { id: 'np-protocol-mismatch', from: 'a/web-0', to: 'a/api-0', port: 53, expect: 'denied', why: 'N5: dns is UDP, the rule says TCP' },
  { id: 'np-protocol-mismatch-udp', from: 'a/web-0', to: 'a/api-0', port: 53, protocol: 'UDP', expect: 'denied', why: 'N5: rule TCP does not cover UDP' },
  { id: 'np-deny-unresolvable', from: 'a/web-0', to: 'a/api-1', port: 8080, expect: 'allowed', why: 'N6: a deny on an unknown name denies nothing' },
  { id: 'np-egress-cluster-unique', from: 'a/web-0', to: 'a/plain-0', port: 5432, expect: 'allowed', why: 'N4: pg has one number cluster-wide, allowed to a peer lacking it' },
  { id: 'np-egress-cluster-duplicate', from: 'a/web-0', to: 'a/plain-0', port: 9100, expect: 'denied', why: 'N4: metrics is 9100 and 9200: ErrDuplicateNamedPorts' },
  { id: 'np-egress-cluster-duplicate-other', from: 'a/web-0', to: 'a/plain-0', port: 9200, expect: 'denied', why: 'N4: neither number' },
  // toServices (S2-S5, S10).
  { id: 'svc-selector-direct-pod', from: 'a/web-0', to: 'a/api-1', port: 8080, expect: 'allowed', why: 'S3: generated toEndpoints, direct pod traffic allowed' },
  { id: 'svc-selector-other-namespace', from: 'a/web-0', to: 'b/api-0', port: 8080, expect: 'denied', why: 'S3: same labels in another namespace are not selected' },
  { id: 'svc-trace-service-port', from: 'a/web-0', to: { service: 'a/api' }, port: 80, expect: 'allowed', why: 'S10: 80 -> backend 8080', backend: { name: 'a/api-0', port: 8080 } },
  { id: 'svc-trace-named-target', from: 'a/web-0', to: { service: 'a/api-named' }, port: 81, expect: 'allowed', why: 'N10: targetPort http -> 8080', backend: { name: 'a/api-0', port: 8080 } },
  { id: 'svc-port-is-backend-port', from: 'a/web-0', to: 'a/api-0', port: 80, expect: 'denied', why: 'S5: toPorts 8080 is the backend port; 80 is not allowed' },
  { id: 'svc-selectorless-endpoint', from: 'a/web-0', to: { ip: '192.0.2.10' }, port: 5432, expect: 'allowed', why: 'S4: /32 of the EndpointSlice address; namespace omitted = any (S2)' },
  { id: 'svc-selectorless-trace', from: 'a/web-0', to: { service: 'b/legacy' }, port: 5432, expect: 'allowed', why: 'S10 with a selector-less backend', backend: { name: '192.0.2.10', port: 5432 } },
  { id: 'svc-selectorless-not-others', from: 'a/web-0', to: { ip: '192.0.2.11' }, port: 5432, expect: 'denied', why: 'S4: only the listed address' },
  { id: 'svc-by-service-labels', from: 'a/web-0', to: 'a/api-0', port: 7000, expect: 'allowed', side: 'egress', why: 'S2: k8sServiceSelector over the Service labels (tier=backend in a)' },
  { id: 'svc-by-service-labels-ns', from: 'a/web-0', to: 'b/db-1', port: 7000, expect: 'denied', side: 'egress', why: 'S2: service b/db has the label but is in b' },
  // Nodes (D3-D8).
  { id: 'nodes-to-labelled', from: 'a/web-0', to: { ip: '10.0.0.102' }, port: 22, expect: 'allowed', why: 'D4: node-b has pool=gpu' },
  { id: 'nodes-to-unlabelled', from: 'a/web-0', to: { ip: '10.0.0.101' }, port: 22, expect: 'denied', why: 'D8: a remote-node entity address has no node labels' },
  { id: 'nodes-never-host', from: 'a/web-0', to: { ip: '10.0.0.100' }, port: 22, expect: 'denied', why: 'D4/D6: toNodes never matches the local node' },
  { id: 'nodes-k8s-source-no-match', from: 'a/web-0', to: { ip: '10.0.0.103' }, port: 22, expect: 'denied', why: 'D4: node labels carry source node, k8s:zone does not match' },
  { id: 'nodes-from-labelled', from: { ip: '10.0.0.102' }, to: 'a/api-0', port: 9999, expect: 'allowed', why: 'fromNodes zone=b' },
  { id: 'nodes-from-other-zone', from: { ip: '10.0.0.103' }, to: 'a/api-0', port: 9999, expect: 'denied', why: 'fromNodes zone=b, node-c is zone c' },
  { id: 'nodes-from-pod-not-node', from: 'a/web-0', to: 'a/api-0', port: 9999, expect: 'denied', why: 'D4: never pods' },
  { id: 'remote-node-entity-labelled', from: { ip: '10.0.0.103' }, to: 'a/api-0', port: 9998, expect: 'allowed', why: 'D5: remote-node matches labelled nodes too' },
  { id: 'remote-node-entity-plain', from: { entity: 'remote-node' }, to: 'a/api-0', port: 9998, expect: 'allowed', why: 'D5' },
];

const world = parseWorld(WORLD, 'world.yaml');
const engine = createEngine({ policies: parsePolicyText(POLICIES, 'policies.yaml'), world });

for (const row of ROWS) {
  test(`${row.id}: ${row.why}`, () => {
    const { why: _why, backend: _b, side, ...c } = row;
    const [r] = trace(engine, parseCases(stringify([c]), 'cases.yaml'));
    assert.equal(side ? r[side].verdict : r.verdict, row.expect, r.reason);
    if (row.backend) assert.deepEqual(r.backend, row.backend);
  });
}

const INVALID: { id: string; text: string; match: RegExp }[] = [
  { id: 'toGroups refused', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: g, namespace: a}\nspec:\n  endpointSelector: {}\n  egress:\n  - toGroups: [{aws: {securityGroupsIds: [sg-1]}}]\n', match: /toGroups.*not supported/ },
  { id: 'fromGroups refused', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: g, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromGroups: [{aws: {securityGroupsIds: [sg-1]}}]\n', match: /fromGroups.*not supported/ },
  { id: 'toServices mixed with toEndpoints (S6)', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: g, namespace: a}\nspec:\n  endpointSelector: {}\n  egress:\n  - toServices: [{k8sService: {serviceName: api}}]\n    toEndpoints: [{}]\n', match: /combining/ },
  { id: 'k8sServiceSelector without selector', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: g, namespace: a}\nspec:\n  endpointSelector: {}\n  egress:\n  - toServices: [{k8sServiceSelector: {namespace: a}}]\n', match: /selector: is required/ },
];

for (const row of INVALID) {
  test(`invalid: ${row.id}`, () => {
    assert.throws(() => parsePolicyText(row.text, 'p.yaml'), (err: unknown) => isTendrilError(err) && row.match.test(messages(err)));
  });
}

const BAD_WORLDS: { id: string; text: string; match: RegExp }[] = [
  { id: 'duplicate port name in one pod (N2)', text: 'endpoints:\n- {name: p, namespace: a, ips: [10.0.0.9], ports: [{name: http, containerPort: 80}, {name: http, containerPort: 81}]}\n', match: /endpoints\[0\]\.ports\[1\]\.name.*duplicate port name/ },
  { id: 'service with selector and endpoints', text: 'services:\n- {name: s, namespace: a, selector: {app: x}, endpoints: [10.0.0.9]}\n', match: /services\[0\]\.endpoints/ },
  { id: 'node address is a pod', text: 'endpoints:\n- {name: p, namespace: a, ips: [10.0.0.9]}\nnodes:\n- {name: n, address: 10.0.0.9}\n', match: /nodes\[0\]\.address/ },
  { id: 'bad service port', text: 'services:\n- {name: s, namespace: a, ports: [{port: 70000}]}\n', match: /services\[0\]\.ports\[0\]\.port/ },
];

for (const row of BAD_WORLDS) {
  test(`invalid world: ${row.id}`, () => {
    assert.throws(() => parseWorld(row.text, 'w.yaml'), (err: unknown) => isTendrilError(err) && row.match.test(messages(err)));
  });
}

function messages(err: unknown): string {
  const e = err as { message?: string; errors?: { message: string }[] };
  return [e.message ?? '', ...(e.errors ?? []).map((x) => x.message)].join('\n');
}
