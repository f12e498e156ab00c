/**
 * `tendril agent` with encryption.enabled in a network-namespace "node": it loads the persisted
 * key, peers with the node from world.yaml `nodes` (key in `network.cilium.io/wg-pub-key`), routes
 * that node's pod CIDR into the tunnel, and `tendril status` shows interface, key, peers,
 * handshake and bytes read from the device. No private key in logs or status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { KeyStore, PrivateKey, WireGuardManager, WG_PUBKEY_ANNOTATION } from '../../wireguard/index.js';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { WgCluster, wgLeftovers } from '../helpers/wg-cluster.js';
import { collect, waitForLine } from '../helpers/pod.js';
import { TENDRIL_BIN } from '../helpers/agent.js';
import { sh } from '../helpers/netns.js';

const TRAFFIC = new URL('./fixtures/wg-traffic.mjs', import.meta.url).pathname;
const EXAMPLE_WORLD = new URL('../../config/examples/world.yaml', import.meta.url).pathname;

test('the agent runs WireGuard from encryption.enabled and reports the device in tendril status', { timeout: 120_000 }, async (t) => {
  if (!privilegedOrSkip(t, { netns: true })) return;
  const cluster = new WgCluster();
  let m2: WireGuardManager | null = null;
  t.after(async () => {
    const problems = await cluster.teardown();
    assert.deepEqual(problems, []);
    assert.deepEqual(wgLeftovers(cluster.id), []);
  });
  cluster.onTeardown(async () => {
    await m2?.stop();
  });
  const n1 = cluster.addNode(1);
  const n2 = cluster.addNode(2);
  // Node 1's key exists before the agent starts: the agent must reuse it.
  const key1 = PrivateKey.generate();
  new KeyStore(n1.stateDir).save(key1);
  m2 = new WireGuardManager({ nodeName: 'node2', ifname: n2.wgIf, listenPort: 51871, stateDir: n2.stateDir, netnsPath: n2.nsPath, log: pino({ level: 'silent' }) });
  await m2.start();
  const nodes = [
    { name: 'node1', address: n1.address, podCIDRs: [n1.podCIDR], publicKey: key1.publicKey },
    { name: 'node2', address: n2.address, podCIDRs: [n2.podCIDR], publicKey: m2.publicKey },
  ];
  await m2.setNodes(nodes);

  const world = join(cluster.stateRoot, 'world.yaml');
  writeFileSync(
    world,
    `${readFileSync(EXAMPLE_WORLD, 'utf8')}\nnodes:\n` +
      nodes.map((n) => `  - name: ${n.name}\n    address: ${n.address}\n    podCIDRs: [${n.podCIDRs[0]}]\n    annotations: {${WG_PUBKEY_ANNOTATION}: "${n.publicKey}"}\n`).join('') +
      `  - name: node9\n    address: 172.31.9.2\n    podCIDRs: [10.200.9.0/24]\n`,
  );
  const sets = [
    'nodeName=node1',
    'encryption.enabled=true',
    `encryption.wireguard.interface=${n1.wgIf}`,
    `encryption.wireguard.stateDir=${n1.stateDir}`,
    `standalone.world=${world}`,
    'datapath.enabled=false',
    'hubble.store.enabled=false',
  ];
  const agent = cluster.spawnIn(n1.nsPath, process.execPath, [TENDRIL_BIN, 'agent', ...sets.flatMap((s) => ['--set', s])]);
  let logs = '';
  agent.stdout!.on('data', (d: Buffer) => (logs += d));
  agent.stderr!.on('data', (d: Buffer) => (logs += d));
  await waitFor(async () => /agent ready/.test(logs), 30_000, () => logs);
  const status = async (json = true): Promise<string> => {
    const r = await collect(cluster.spawnIn(n1.nsPath, process.execPath, [TENDRIL_BIN, 'status', ...(json ? ['-o', 'json'] : [])]), 15_000);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  const srv = cluster.spawnIn(n2.podNsPath, process.execPath, [TRAFFIC, 'server', n2.podIp, '7000']);
  await waitForLine(srv, /listening/);
  const sent = await collect(cluster.spawnIn(n1.podNsPath, process.execPath, [TRAFFIC, 'send', n2.podIp, '7000', '300000', 'M', '0']), 30_000);
  assert.equal(sent.code, 0, sent.stderr);

  type Enc = { interface: string; up: boolean; publicKey: string; listenPort: number; routes: string[]; peers: Array<{ node: string; endpoint: string; allowedIps: string[]; lastHandshake: string | null; txBytes: number; rxBytes: number }>; skippedNodes: Array<{ node: string }>; measuredAt: string };
  let enc: Enc | null = null;
  await waitFor(async () => {
    enc = (JSON.parse(await status()) as { components: { encryption: Enc } }).components.encryption;
    return !!enc.peers[0]?.lastHandshake && enc.peers[0].txBytes >= 300_000;
  }, 20_000, () => JSON.stringify(enc));
  const e = enc as unknown as Enc;
  assert.equal(e.interface, n1.wgIf);
  assert.equal(e.up, true);
  assert.equal(e.publicKey, key1.publicKey);
  assert.equal(readFileSync(join(n1.stateDir, 'public.key'), 'utf8').trim(), key1.publicKey);
  assert.equal(e.listenPort, 51871);
  assert.deepEqual(e.routes, ['10.200.2.0/24']);
  assert.deepEqual(e.peers.map((p) => [p.node, p.endpoint, p.allowedIps]), [['node2', `${n2.address}:51871`, ['10.200.2.0/24']]]);
  assert.deepEqual(e.skippedNodes.map((s) => s.node), ['node9']);
  // `wg` observes at least the bytes the status reported (counters only grow).
  const row = sh('wg', ['show', n1.wgIf, 'dump']).trim().split('\n')[1]!.split('\t');
  assert.equal(row[0], m2.publicKey);
  assert.ok(Number(row[6]) >= e.peers[0]!.txBytes);

  const text = await status(false);
  assert.match(text, new RegExp(`Encryption:\\s+Wireguard\\s+${n1.wgIf} up \\(Pubkey: ${key1.publicKey.replace(/[+/]/g, '\\$&')}, Port: 51871, Peers: 1\\)`));
  assert.match(text, /peer node2:\s+172\.31\.2\.2:51871\s+10\.200\.2\.0\/24\s+handshake \d{4}-/);
  assert.match(text, /not peered node9:\s+no public key published/);

  const jsonOut = await status();
  for (const secret of [key1.fileText().trim(), key1.uapiHex()]) {
    assert.ok(!logs.includes(secret), 'private key in the agent log');
    assert.ok(!jsonOut.includes(secret) && !text.includes(secret), 'private key in status');
  }

  agent.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => agent.once('exit', (c) => r(c)));
  assert.equal(code, 0, logs);
  assert.equal(existsSync(`/var/run/wireguard/${n1.wgIf}.sock`), false);
  srv.kill();
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`timed out: ${why()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('the agent refuses a corrupt key file at start: exit 2 naming the path, no device left', { timeout: 60_000 }, async (t) => {
  if (!privilegedOrSkip(t, { netns: true })) return;
  const cluster = new WgCluster();
  t.after(async () => {
    assert.deepEqual(await cluster.teardown(), []);
  });
  const n1 = cluster.addNode(1);
  new KeyStore(n1.stateDir).save(PrivateKey.generate());
  const keyFile = join(n1.stateDir, 'private.key');
  writeFileSync(keyFile, 'Zm9vYmFyYmF6cXV4LW5vdC1hLWtleS1hdC1hbGwtMTIzNA==\n');
  const sets = ['nodeName=node1', 'encryption.enabled=true', `encryption.wireguard.interface=${n1.wgIf}`, `encryption.wireguard.stateDir=${n1.stateDir}`, 'datapath.enabled=false', 'hubble.store.enabled=false'];
  const r = await collect(cluster.spawnIn(n1.nsPath, process.execPath, [TENDRIL_BIN, 'agent', ...sets.flatMap((s) => ['--set', s])]), 30_000);
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`error: ${keyFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: is not a WireGuard private key`));
  assert.ok(!(r.stdout + r.stderr).includes('Zm9vYmFyYmF6'), 'the file content is echoed');
  assert.equal(existsSync(`/var/run/wireguard/${n1.wgIf}.sock`), false);
  assert.deepEqual(wgLeftovers(cluster.id), []);
});
