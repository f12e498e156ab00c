/**
 * WireGuard node encryption across "nodes" in network namespaces (test/helpers/wg-cluster.ts),
 * each with its own WireGuardManager driving a real wireguard-go over UAPI. `wg show` is used
 * only to observe the devices. One cluster is shared by the subtests, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { WireGuardManager, PrivateKey, type NodeInfo } from '../../wireguard/index.js';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { WgCluster, wgLeftovers, type WgNode } from '../helpers/wg-cluster.js';
import { Capture } from '../helpers/pcap.js';
import { collect } from '../helpers/pod.js';
import type { ChildProcess } from 'node:child_process';
import { sh } from '../helpers/netns.js';

const PORT = 51871;
const TRAFFIC = new URL('./fixtures/wg-traffic.mjs', import.meta.url).pathname;
const MARKER = 'TENDRIL-PLAINTEXT-MARKER-7f3a';

test('WireGuard between network-namespace nodes', { timeout: 240_000 }, async (t) => {
  if (!privilegedOrSkip(t, { netns: true })) return;
  const cluster = new WgCluster();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const log = pino({ level: 'debug' }, logStream);
  const managers = new Map<number, WireGuardManager>();
  const addresses = new Map<number, string>();
  const seenKeys: string[] = [];
  t.after(async () => {
    const problems = await cluster.teardown();
    assert.deepEqual(problems, []);
    assert.deepEqual(wgLeftovers(cluster.id), []);
  });
  cluster.onTeardown(async () => {
    for (const m of managers.values()) await m.stop();
  });

  const startNode = async (i: number): Promise<WireGuardManager> => {
    const n = cluster.nodes.get(i) ?? cluster.addNode(i);
    if (!addresses.has(i)) addresses.set(i, n.address);
    const m = new WireGuardManager({ nodeName: n.name, ifname: n.wgIf, listenPort: PORT, stateDir: n.stateDir, netnsPath: n.nsPath, log: log.child({ node: n.name }) });
    await m.start();
    managers.set(i, m);
    rememberKey(n);
    return m;
  };
  const rememberKey = (n: WgNode): void => {
    const k = readFileSync(join(n.stateDir, 'private.key'), 'utf8').trim();
    if (!seenKeys.includes(k)) seenKeys.push(k);
  };
  const nodeList = (members: number[]): NodeInfo[] =>
    members.map((i) => ({ name: cluster.node(i).name, address: addresses.get(i)!, podCIDRs: [cluster.node(i).podCIDR], publicKey: managers.get(i)!.publicKey }));
  const reconcileAll = async (members: number[]): Promise<void> => {
    for (const i of members) await managers.get(i)!.setNodes(nodeList(members));
  };
  const server = async (i: number, port = 7000): Promise<Sink> => {
    const s = cluster.spawnIn(cluster.node(i).podNsPath, process.execPath, [TRAFFIC, 'server', cluster.node(i).podIp, String(port)]);
    const sink = new Sink(s);
    await sink.next();
    t.after(() => void s.kill());
    return sink;
  };
  const send = async (from: number, to: number, bytes: number, ms = 0, port = 7000) => {
    const c = cluster.spawnIn(cluster.node(from).podNsPath, process.execPath, [TRAFFIC, 'send', cluster.node(to).podIp, String(port), String(bytes), MARKER, String(ms)]);
    return collect(c, 60_000);
  };
  const wgShow = (i: number): string => sh('wg', ['show', cluster.node(i).wgIf, 'dump']);

  await t.test('two nodes: pod traffic crosses the underlay encrypted, status is measured', async () => {
    await startNode(1);
    await startNode(2);
    await reconcileAll([1, 2]);
    const srv = await server(2);
    const under = await Capture.start(cluster.node(1).nsPath, cluster.node(1).underlayIf, join(cluster.stateRoot, 'under.pcap'));
    const podSide = await Capture.start(cluster.node(1).nsPath, `td${cluster.id}h1`, join(cluster.stateRoot, 'pod.pcap'));
    const sent = await send(1, 2, 2_000_000);
    assert.equal(sent.code, 0, sent.stderr);
    const got = await srv.json();
    assert.deepEqual(got, { bytes: 2_000_000, sha256: JSON.parse(sent.stdout).sha256 });
    const underPkts = await under.stop();
    const podPkts = await podSide.stop();
    const marker = Buffer.from(MARKER);
    // The capture method sees plaintext where it exists (the pod side of node 1)...
    assert.ok(podPkts.some((p) => p.raw.includes(marker)), 'the pod-side capture must show the marker (capture sanity)');
    // ...and the underlay carries only WireGuard UDP with no marker.
    const ip = underPkts.filter((p) => p.etherType === 0x0800);
    assert.ok(ip.length > 100, `expected tunnel packets on the underlay, saw ${ip.length}`);
    const notWg = ip.filter((p) => !(p.proto === 17 && (p.sport === PORT || p.dport === PORT)));
    assert.deepEqual(notWg.map((p) => `${p.proto} ${p.src}:${p.sport} > ${p.dst}:${p.dport}`), []);
    assert.equal(underPkts.filter((p) => p.raw.includes(marker)).length, 0, 'plaintext marker on the underlay');
    assert.deepEqual(underPkts.filter((p) => p.etherType !== 0x0800 && p.etherType !== 0x0806).map((p) => p.etherType), []);

    const st = await managers.get(1)!.refreshNow();
    assert.equal(st.interface, cluster.node(1).wgIf);
    assert.equal(st.up, true);
    assert.equal(st.listenPort, PORT);
    assert.equal(st.peers.length, 1);
    const peer = st.peers[0]!;
    assert.equal(peer.node, 'node2');
    assert.equal(peer.publicKey, managers.get(2)!.publicKey);
    assert.equal(peer.endpoint, `${cluster.node(2).address}:${PORT}`);
    assert.deepEqual(peer.allowedIps, ['10.200.2.0/24']);
    assert.ok(peer.lastHandshake && Date.now() - Date.parse(peer.lastHandshake) < 60_000, `handshake ${peer.lastHandshake}`);
    assert.ok(peer.txBytes > 2_000_000, `tx ${peer.txBytes}`);
    assert.deepEqual(st.routes, ['10.200.2.0/24']);
    // The same facts as `wg` observes them (last field of a peer row: keepalive; 6/7: rx/tx).
    const rows = wgShow(1).trim().split('\n').slice(1).map((l) => l.split('\t'));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]![0], managers.get(2)!.publicKey);
    assert.ok(Number(rows[0]![6]) >= peer.txBytes);
    srv.kill();
  });

  await t.test('a third node joins: every node peers with it, traffic flows both ways', async () => {
    await startNode(3);
    await reconcileAll([1, 2, 3]);
    for (const i of [1, 2, 3]) {
      const peers = (await managers.get(i)!.refreshNow()).peers.map((p) => p.node).sort();
      assert.deepEqual(peers, [1, 2, 3].filter((j) => j !== i).map((j) => `node${j}`));
    }
    const s3 = await server(3);
    const s2 = await server(2, 7001);
    const a = await send(1, 3, 300_000);
    const b = await send(3, 2, 300_000, 0, 7001);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await s3.json()).sha256, JSON.parse(a.stdout).sha256);
    assert.equal((await s2.json()).sha256, JSON.parse(b.stdout).sha256);
    s3.kill();
    s2.kill();
  });

  await t.test("a node's endpoint changes: peers follow it", async () => {
    const n3 = cluster.node(3);
    sh('ip', ['-n', n3.ns, 'addr', 'flush', 'dev', n3.underlayIf]);
    sh('ip', ['-n', n3.ns, 'addr', 'add', '172.31.3.3/24', 'dev', n3.underlayIf]);
    sh('ip', ['-n', n3.ns, 'route', 'replace', 'default', 'via', '172.31.3.1']);
    addresses.set(3, '172.31.3.3');
    const r = await managers.get(1)!.setNodes(nodeList([1, 2, 3]));
    assert.deepEqual(r.updated, ['node3']);
    assert.deepEqual(r.added, []);
    await managers.get(2)!.setNodes(nodeList([1, 2, 3]));
    await managers.get(3)!.setNodes(nodeList([1, 2, 3]));
    assert.match(wgShow(1), new RegExp(`${escape(managers.get(3)!.publicKey)}\\t[^\\t]*\\t172\\.31\\.3\\.3:${PORT}\\t`));
    const s3 = await server(3);
    const a = await send(1, 3, 200_000);
    assert.equal(a.code, 0, a.stderr);
    assert.equal((await s3.json()).sha256, JSON.parse(a.stdout).sha256);
    s3.kill();
  });

  await t.test('a node removed: its peer and pod route go; re-added: traffic flows again', async () => {
    const r1 = await managers.get(1)!.setNodes(nodeList([1, 2]));
    assert.equal(r1.removed.length, 1);
    assert.deepEqual(r1.routesDeleted, ['10.200.3.0/24']);
    await managers.get(2)!.setNodes(nodeList([1, 2]));
    const st = await managers.get(1)!.refreshNow();
    assert.deepEqual(st.peers.map((p) => p.node), ['node2']);
    assert.deepEqual(st.routes, ['10.200.2.0/24']);
    assert.doesNotMatch(wgShow(1), new RegExp(escape(managers.get(3)!.publicKey)));
    const s3 = await server(3);
    const cut = await collect(cluster.spawnIn(cluster.node(1).podNsPath, process.execPath, [TRAFFIC, 'send', cluster.node(3).podIp, '7000', '10000', MARKER, '0']), 3000);
    // Node 1 no longer routes node 3's pods into the tunnel; the underlay router drops them.
    assert.notEqual(cut.code, 0);
    await reconcileAll([1, 2, 3]);
    const back = await send(1, 3, 200_000);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await s3.json()).sha256, JSON.parse(back.stdout).sha256);
    s3.kill();
  });

  await t.test('key rotation in the middle of a transfer loses nothing', async () => {
    const srv = await server(2, 7002);
    const before = managers.get(1)!.publicKey;
    const transfer = send(1, 2, 24_000_000, 8000, 7002);
    await sleep(2500);
    const rotatedAt = Date.now();
    const after = await managers.get(1)!.rotateKey();
    rememberKey(cluster.node(1));
    assert.notEqual(after, before);
    await reconcileAll([1, 2, 3]);
    const res = await transfer;
    assert.equal(res.code, 0, res.stderr);
    const got = await srv.json();
    assert.deepEqual(got, { bytes: 24_000_000, sha256: JSON.parse(res.stdout).sha256 });
    // Node 2 knows only the new key of node 1 and has handshaken with it since the rotation.
    const st2 = await managers.get(2)!.refreshNow();
    const p1 = st2.peers.filter((p) => p.node === 'node1');
    assert.equal(p1.length, 1);
    assert.equal(p1[0]!.publicKey, after);
    assert.ok(p1[0]!.lastHandshake && Date.parse(p1[0]!.lastHandshake) >= rotatedAt - 1000, `handshake ${p1[0]!.lastHandshake}`);
    assert.equal(PrivateKey.fromBase64(readFileSync(join(cluster.node(1).stateDir, 'private.key'), 'utf8'))!.publicKey, after);
    srv.kill();
  });

  await t.test('a restarted manager reuses the persisted key (0600 in a 0700 folder)', async () => {
    const n2 = cluster.node(2);
    const key = managers.get(2)!.publicKey;
    await managers.get(2)!.stop();
    managers.delete(2);
    assert.equal(statSync(join(n2.stateDir, 'private.key')).mode & 0o777, 0o600);
    assert.equal(statSync(n2.stateDir).mode & 0o777, 0o700);
    const m2 = await startNode(2);
    assert.equal(m2.publicKey, key);
    await reconcileAll([1, 2, 3]);
    const srv = await server(2, 7003);
    const a = await send(1, 2, 200_000, 0, 7003);
    assert.equal(a.code, 0, a.stderr);
    assert.equal((await srv.json()).sha256, JSON.parse(a.stdout).sha256);
    srv.kill();
  });

  await t.test('an agent killed without stopping its device: the next one adopts it, traffic goes on', async () => {
    const n2 = cluster.node(2);
    const crashed = managers.get(2)!;
    const pid = crashed.pid;
    const srv = await server(2, 7004);
    const transfer = send(1, 2, 8_000_000, 4000, 7004);
    await sleep(1500);
    // The old manager is dropped, not stopped (its wireguard-go keeps running, as after SIGKILL).
    const m2 = new WireGuardManager({ nodeName: n2.name, ifname: n2.wgIf, listenPort: PORT, stateDir: n2.stateDir, netnsPath: n2.nsPath, log: log.child({ node: n2.name }) });
    managers.set(2, m2);
    await m2.start();
    assert.equal(m2.adopted, true);
    assert.equal(m2.publicKey, crashed.publicKey);
    await m2.setNodes(nodeList([1, 2, 3]));
    const res = await transfer;
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(await srv.json(), { bytes: 8_000_000, sha256: JSON.parse(res.stdout).sha256 });
    assert.deepEqual((await m2.refreshNow()).peers.map((p) => p.node).sort(), ['node1', 'node3']);
    // Stopping the adopting manager removes the device; the old wireguard-go exits with it.
    await m2.stop();
    assert.ok(pid !== null);
    await waitGone(pid);
    managers.set(2, await startNode(2));
    await reconcileAll([1, 2, 3]);
  });

  await t.test('no private key in logs or status', async () => {
    assert.ok(seenKeys.length >= 4, `keys seen: ${seenKeys.length}`);
    const everything = logs.join('') + JSON.stringify([...managers.values()].map((m) => m.status()));
    for (const k of seenKeys) {
      assert.ok(!everything.includes(k), 'a base64 private key appears in logs or status');
      assert.ok(!everything.includes(Buffer.from(k, 'base64').toString('hex')), 'a hex private key appears in logs or status');
    }
    assert.match(logs.join(''), /WireGuard key rotated/);
  });
});

/** Buffers a child's stdout lines so none is missed between awaits. */
class Sink {
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  private buf = '';
  private exited = false;
  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
      this.waiter?.();
    });
    child.once('exit', () => {
      this.exited = true;
      this.waiter?.();
    });
  }
  async next(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.exited) throw new Error('server exited');
      if (Date.now() > deadline) throw new Error('server printed nothing');
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 200);
      });
    }
    return this.lines.shift()!;
  }
  async json(): Promise<{ bytes: number; sha256: string }> {
    return JSON.parse(await this.next()) as { bytes: number; sha256: string };
  }
  kill(): void {
    this.child.kill();
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(20);
  }
  assert.fail(`wireguard-go ${pid} still running`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
