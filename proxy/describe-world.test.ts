import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWorld, endpointIdentityNumbers } from '../policy/index.js';
import { describeFromWorld } from './describe-world.js';

const world = parseWorld(
  'endpoints:\n  - {name: a-0, namespace: ns, labels: {app: a}, ips: [127.0.1.1]}\nentities:\n  host: [127.0.0.1]\n  kube-apiserver: [127.0.0.100]\n',
  'w.yaml',
);

test('endpoints get namespace, pod, identity labels and their numeric identity', () => {
  const d = describeFromWorld(world, endpointIdentityNumbers(world));
  const ep = d('ns/a-0', '127.0.1.1');
  assert.equal(ep.namespace, 'ns');
  assert.equal(ep.pod_name, 'a-0');
  assert.equal(ep.identity, 1000);
  assert.ok(ep.labels!.includes('k8s:app=a'));
});

test('non-endpoint peers: entities get their reserved identity, anything else is world', () => {
  const d = describeFromWorld(world);
  assert.deepEqual({ ...d(null, '127.0.0.1') }, { identity: 1, labels: ['reserved:host'] });
  assert.deepEqual({ ...d(null, '127.0.0.100') }, { identity: 7, labels: ['reserved:kube-apiserver'] });
  assert.deepEqual({ ...d(null, '8.8.8.8') }, { identity: 2, labels: ['reserved:world'] });
  assert.deepEqual({ ...d(null) }, { identity: 2, labels: ['reserved:world'] });
});
