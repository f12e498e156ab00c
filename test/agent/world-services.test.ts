// Services of the world model -> socket-LB entries (kubeProxyReplacement): ClusterIP and port to
// backend pods on targetPort (a name resolved per pod), selector-less services to their
// EndpointSlice addresses, no backends -> an entry with none (connect() refused). One subtest per row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWorld } from '../../policy/index.js';
import { serviceSpecsFromWorld } from '../../datapath/index.js';

const world = parseWorld(
  `
endpoints:
  - {name: api-0, namespace: a, labels: {app: api}, ips: [10.1.0.2], ports: [{name: http, containerPort: 8080}]}
  - {name: api-1, namespace: a, labels: {app: api}, ips: [10.1.0.3], ports: [{name: http, containerPort: 8081}]}
  - {name: api-2, namespace: b, labels: {app: api}, ips: [10.1.0.4], ports: [{name: http, containerPort: 8080}]}
services:
  - {name: api, namespace: a, selector: {app: api}, clusterIP: 10.96.0.10, ports: [{port: 80, targetPort: http}, {port: 9090, targetPort: 9090, protocol: UDP}]}
  - {name: legacy, namespace: a, endpoints: [192.0.2.10, 192.0.2.11], clusterIP: 10.96.0.11, ports: [{port: 5432}]}
  - {name: empty, namespace: a, selector: {app: nothing}, clusterIP: 10.96.0.12, ports: [{port: 80}]}
  - {name: headless, namespace: a, selector: {app: api}, ports: [{port: 80}]}
`,
  'world.yaml',
);
const specs = serviceSpecsFromWorld(world);
const find = (vip: string, port: number, protocol = 'TCP') => specs.find((s) => s.vip === vip && s.port === port && s.protocol === protocol);

const ROWS = [
  { id: 'named targetPort resolves per pod, only the service namespace', vip: '10.96.0.10', port: 80, protocol: 'TCP', backends: [{ ip: '10.1.0.2', port: 8080 }, { ip: '10.1.0.3', port: 8081 }] },
  { id: 'UDP port with a numeric targetPort', vip: '10.96.0.10', port: 9090, protocol: 'UDP', backends: [{ ip: '10.1.0.2', port: 9090 }, { ip: '10.1.0.3', port: 9090 }] },
  { id: 'selector-less: the EndpointSlice addresses, targetPort = port', vip: '10.96.0.11', port: 5432, protocol: 'TCP', backends: [{ ip: '192.0.2.10', port: 5432 }, { ip: '192.0.2.11', port: 5432 }] },
  { id: 'no backends: the entry stays with none (ECONNREFUSED)', vip: '10.96.0.12', port: 80, protocol: 'TCP', backends: [] },
];
for (const row of ROWS) {
  test(row.id, () => {
    assert.deepEqual(find(row.vip, row.port, row.protocol)?.backends, row.backends);
  });
}

test('a service without a ClusterIP (headless) has no entry', () => {
  assert.equal(specs.length, 4);
});
