import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateKey, WG_PUBKEY_ANNOTATION, canonicalCidr, desiredPeers, nodeFromAnnotations, planPeers, planRoutes, parseGet, setRequest, publicKeyToHex, type NodeInfo, type DevicePeer } from '../../wireguard/index.js';

const self = PrivateKey.generate();
const [ka, kb, kc] = [PrivateKey.generate().publicKey, PrivateKey.generate().publicKey, PrivateKey.generate().publicKey];
const node = (name: string, address: string, cidrs: string[], publicKey?: string, port?: number): NodeInfo => ({ name, address, podCIDRs: cidrs, ...(publicKey ? { publicKey } : {}), ...(port ? { port } : {}) });

test('the annotation is the one Cilium publishes WireGuard keys in', () => {
  assert.equal(WG_PUBKEY_ANNOTATION, 'network.cilium.io/wg-pub-key');
  const n = nodeFromAnnotations({ name: 'b', address: '10.0.0.2', podCIDRs: ['10.1.2.0/24'], annotations: { [WG_PUBKEY_ANNOTATION]: ka } });
  assert.equal(n.publicKey, ka);
});

const skipRows: Array<[string, NodeInfo, RegExp]> = [
  ['no key', node('b', '10.0.0.2', ['10.1.2.0/24']), /no public key published/],
  ['bad key', node('b', '10.0.0.2', ['10.1.2.0/24'], 'AAAA'), /not a base64 WireGuard key/],
  ["own key", node('b', '10.0.0.2', ['10.1.2.0/24'], self.publicKey), /own public key/],
  ['bad address', node('b', 'node-b', ['10.1.2.0/24'], ka), /not an IP address/],
  ['bad cidr', node('b', '10.0.0.2', ['10.1.2.0/33'], ka), /malformed/],
  ['no cidr', node('b', '10.0.0.2', [], ka), /no pod CIDRs/],
  ['bad port', node('b', '10.0.0.2', ['10.1.2.0/24'], ka, 70000), /not a UDP port/],
];
for (const [name, n, re] of skipRows) {
  test(`a node with ${name} is skipped with the reason`, () => {
    const r = desiredPeers({ name: 'a', publicKey: self.publicKey }, [node('a', '10.0.0.1', ['10.1.1.0/24'], self.publicKey), n], 51871);
    assert.deepEqual(r.peers, []);
    assert.equal(r.skipped.length, 1);
    assert.match(r.skipped[0]!.reason, re);
  });
}

test('desired peers: self excluded, endpoint and canonical allowed IPs, conflicts skipped', () => {
  const r = desiredPeers({ name: 'a', publicKey: self.publicKey }, [
    node('a', '10.0.0.1', ['10.1.1.0/24'], self.publicKey),
    node('c', 'fd00::3', ['fd10:3::/64', '10.1.3.7/24'], kc, 4000),
    node('b', '10.0.0.2', ['10.1.2.0/24'], kb),
    node('d', '10.0.0.4', ['10.1.2.0/24'], ka),
    node('e', '10.0.0.5', ['10.1.5.0/24'], kb),
  ], 51871);
  assert.deepEqual(r.peers, [
    { node: 'b', publicKey: kb, endpoint: '10.0.0.2:51871', allowedIps: ['10.1.2.0/24'] },
    { node: 'c', publicKey: kc, endpoint: '[fd00::3]:4000', allowedIps: ['10.1.3.0/24', 'fd10:3::/64'] },
  ]);
  assert.deepEqual(r.skipped.map((s) => s.node), ['d', 'e']);
  assert.match(r.skipped[0]!.reason, /also node b's/);
  assert.match(r.skipped[1]!.reason, /same public key as node b/);
});

const dev = (publicKey: string, endpoint: string | null, allowedIps: string[]): DevicePeer => ({ publicKey, endpoint, allowedIps, lastHandshakeMs: null, rxBytes: 0, txBytes: 0, persistentKeepalive: 0 });

test('plan: add, update endpoint, update allowed IPs, remove; no-op when equal; adds before removes', () => {
  const current = [dev(ka, '10.0.0.9:51871', ['10.1.9.0/24']), dev(kb, '10.0.0.2:51871', ['10.1.2.0/24']), dev(kc, '10.0.0.3:51871', ['10.1.3.0/24'])];
  const desired = [
    { node: 'b', publicKey: kb, endpoint: '10.0.0.22:51871', allowedIps: ['10.1.2.0/24'] },
    { node: 'c', publicKey: kc, endpoint: '10.0.0.3:51871', allowedIps: ['10.1.3.0/24', '10.1.33.0/24'] },
    { node: 'n', publicKey: self.publicKey, endpoint: '10.0.0.5:51871', allowedIps: ['10.1.9.0/24'] },
  ];
  const p = planPeers(current, desired);
  assert.deepEqual(p.added, ['n']);
  assert.deepEqual(p.updated, ['b', 'c']);
  assert.deepEqual(p.removed, [ka]);
  assert.deepEqual(p.changes, [
    { publicKey: kb, updateOnly: true, endpoint: '10.0.0.22:51871' },
    { publicKey: kc, updateOnly: true, replaceAllowedIps: true, allowedIps: ['10.1.3.0/24', '10.1.33.0/24'] },
    { publicKey: self.publicKey, endpoint: '10.0.0.5:51871', replaceAllowedIps: true, allowedIps: ['10.1.9.0/24'] },
    { publicKey: ka, remove: true },
  ]);
  assert.deepEqual(planPeers([dev(kb, '10.0.0.2:51871', ['10.1.2.0/24'])], [{ node: 'b', publicKey: kb, endpoint: '10.0.0.2:51871', allowedIps: ['10.1.2.0/24'] }]).changes, []);
});

test('routes plan and canonical prefixes', () => {
  assert.deepEqual(planRoutes(['10.1.2.0/24', '10.1.9.0/24'], ['10.1.2.0/24', '10.1.3.0/24']), { add: ['10.1.3.0/24'], del: ['10.1.9.0/24'] });
  assert.equal(canonicalCidr('10.1.3.7/24'), '10.1.3.0/24');
  assert.equal(canonicalCidr('0.0.0.0/0'), '0.0.0.0/0');
  assert.equal(canonicalCidr('10.1.3.7'), null);
  assert.equal(canonicalCidr('10.1.3.7/40'), null);
});

test('UAPI: set request text and get parsing (private key dropped, counters and handshake read)', () => {
  const k = PrivateKey.generate();
  const req = setRequest({ privateKey: k, listenPort: 51871, replacePeers: true, peers: [{ publicKey: kb, endpoint: '10.0.0.2:51871', replaceAllowedIps: true, allowedIps: ['10.1.2.0/24'] }, { publicKey: kc, remove: true }] });
  assert.equal(
    req,
    `set=1\nprivate_key=${k.uapiHex()}\nlisten_port=51871\nreplace_peers=true\npublic_key=${publicKeyToHex(kb)}\nendpoint=10.0.0.2:51871\nreplace_allowed_ips=true\nallowed_ip=10.1.2.0/24\npublic_key=${publicKeyToHex(kc)}\nremove=true\n\n`,
  );
  const get = `private_key=${k.uapiHex()}\nlisten_port=51871\npublic_key=${publicKeyToHex(kb)}\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1\nendpoint=10.0.0.2:51871\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=500000000\ntx_bytes=1234\nrx_bytes=5678\npersistent_keepalive_interval=0\nallowed_ip=10.1.2.0/24\npublic_key=${publicKeyToHex(kc)}\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n`;
  const s = parseGet(get);
  assert.equal(s.hasPrivateKey, true);
  assert.ok(!JSON.stringify(s).includes(k.uapiHex()));
  assert.equal(s.listenPort, 51871);
  assert.deepEqual(s.peers, [
    { publicKey: kb, endpoint: '10.0.0.2:51871', allowedIps: ['10.1.2.0/24'], lastHandshakeMs: 1700000000500, rxBytes: 5678, txBytes: 1234, persistentKeepalive: 0 },
    { publicKey: kc, endpoint: null, allowedIps: [], lastHandshakeMs: null, rxBytes: 0, txBytes: 0, persistentKeepalive: 0 },
  ]);
  assert.throws(() => parseGet('public_key=zz\n'), /64 hex/);
});
