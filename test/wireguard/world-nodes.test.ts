/** world.yaml `nodes` (the standalone node list of the WireGuard manager): parsing and errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWorld } from '../../policy/index.js';
import { PrivateKey, WG_PUBKEY_ANNOTATION } from '../../wireguard/index.js';
import { worldNodeList } from '../../agent/encryption.js';

const key = PrivateKey.generate().publicKey;

test('nodes become the node list, with the key from the Cilium annotation', () => {
  const w = parseWorld(
    `nodes:\n  - name: a\n    address: 192.0.2.1\n    podCIDRs: [10.200.1.0/24]\n    annotations: {${WG_PUBKEY_ANNOTATION}: "${key}"}\n  - name: b\n    address: 192.0.2.2\n`,
    'w.yaml',
  );
  assert.deepEqual(worldNodeList(w.nodes), [
    { name: 'a', address: '192.0.2.1', podCIDRs: ['10.200.1.0/24'], publicKey: key },
    { name: 'b', address: '192.0.2.2', podCIDRs: [] },
  ]);
  assert.deepEqual(w.warnings, []);
});

const bad: Array<[string, string, RegExp]> = [
  ['bad IP', 'nodes:\n  - name: a\n    address: 192.0.2.300\n', /nodes\[0\]\.address.*invalid IP address/s],
  ['bad CIDR', 'nodes:\n  - name: a\n    address: 192.0.2.1\n    podCIDRs: [10.200.1.0/99]\n', /nodes\[0\]\.podCIDRs\[0\].*invalid CIDR/s],
  ['duplicate', 'nodes:\n  - name: a\n    address: 192.0.2.1\n  - name: a\n    address: 192.0.2.2\n', /nodes\[1\]\.name.*duplicate node/s],
  ['unknown field', 'nodes:\n  - name: a\n    address: 192.0.2.1\n    wgKey: x\n', /wgKey/],
];
test('a node without an address is kept (selectors use its labels) but is no WireGuard peer', () => {
  const w = parseWorld('nodes:\n  - name: a\n    labels: {zone: x}\n', 'w.yaml');
  assert.equal(w.nodes.length, 1);
  assert.equal(w.nodes[0]!.address, null);
  assert.deepEqual(worldNodeList(w.nodes), []);
});

for (const [name, text, re] of bad) {
  test(`a node with ${name} is reported naming file and field (unknown fields: a warning, like the rest of world.yaml)`, () => {
    let msg = '';
    try {
      const w = parseWorld(text, 'w.yaml');
      msg = w.warnings.join('\n');
    } catch (err) {
      msg = (err as Error).message + JSON.stringify((err as { errors?: unknown }).errors ?? '');
    }
    assert.match(msg, re);
    assert.match(msg, /w\.yaml/);
  });
}
