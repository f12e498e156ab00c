/**
 * The libbpf addon against the real kernel: both objects load with a per-run pin root and share
 * their pinned maps, typed map get/set/delete/keys work, errors carry codes, and close({unpin})
 * leaves nothing in bpffs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { BpfObject, defaultObjectPath, libbpfVersion, PROTO } from '../../native/index.js';

test('both objects load with a per-run pin root, share pinned maps, and unpin on close', (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const objs: BpfObject[] = [];
  net.onTeardown(() => objs.forEach((o) => o.close({ unpin: true })));
  assert.match(libbpfVersion(), /^v?\d+\.\d+/);

  const sock = BpfObject.open(defaultObjectPath('sock'), { pinRoot: net.pinRoot });
  objs.push(sock);
  const tc = BpfObject.open(defaultObjectPath('tc'), { pinRoot: net.pinRoot });
  objs.push(tc);
  assert.ok(sock.programs().includes('tnd_connect4'));
  assert.ok(tc.programs().includes('tnd_tc_ingress'));
  const pins = readdirSync(net.pinRoot);
  assert.ok(pins.includes('tendril_svc') && pins.includes('tendril_events'), `pins: ${pins.join(',')}`);
  assert.ok(!pins.includes('tendril_sockhash'), 'the sockhash is not pinned (dies with the loader)');

  // A write through one object is visible through the other: the maps are shared by pin.
  sock.map('tendril_ipcache').set('10.250.1.2', { identity: 1234, flags: 0 });
  assert.deepEqual(tc.map('tendril_ipcache').get('10.250.1.2'), { identity: 1234, flags: 0 });
  assert.equal(tc.map('tendril_ipcache').get('10.250.9.9'), null);

  const svc = sock.map('tendril_svc');
  for (let i = 0; i < 5; i++) svc.set({ vip: `10.96.0.${i + 1}`, port: 80, proto: PROTO.TCP }, { svcId: i + 1, count: 1, flags: 0 });
  assert.equal(svc.keys().length, 5);
  assert.equal(svc.delete({ vip: '10.96.0.1', port: 80, proto: PROTO.TCP }), true);
  assert.equal(svc.delete({ vip: '10.96.0.1', port: 80, proto: PROTO.TCP }), false);
  assert.deepEqual(
    svc.entries().map(([k]) => k.vip).sort(),
    ['10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5'],
  );
  // BPF_NOEXIST on an existing key is an errno error with our code.
  assert.throws(
    () => svc.set({ vip: '10.96.0.2', port: 80, proto: PROTO.TCP }, { svcId: 9, count: 0, flags: 0 }, 1),
    (e: Error & { code?: string; context?: { errno?: number } }) => e.code === 'TND_NATIVE_CALL' && e.context?.errno === 17,
  );
  assert.throws(() => sock.attachCgroup('tnd_connect4', '/sys/fs/cgroup/unified'), /root cgroup/);
  assert.throws(() => sock.mapWith('tendril_nope', { cName: 'x', size: 4, fields: [], encode: () => Buffer.alloc(4), decode: () => 0 }, { cName: 'y', size: 4, fields: [], encode: () => Buffer.alloc(4), decode: () => 0 }).get(0), /find_map_by_name\(tendril_nope\)/);

  sock.close({ unpin: true });
  tc.close({ unpin: true });
  assert.deepEqual(readdirSync(net.pinRoot).filter((n) => n.startsWith('tendril_')), []);
  assert.throws(() => sock.programs(), /closed/);
  const problems = net.teardown();
  assert.deepEqual(problems, []);
  assert.ok(!existsSync(net.pinRoot));
});

test('a missing object file fails with TND_BPF_LOAD naming the fix', (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  assert.throws(
    () => BpfObject.open('/nonexistent/x.bpf.o', { pinRoot: net.pinRoot }),
    (e: Error & { code?: string }) => e.code === 'TND_BPF_LOAD' && /npm run build:bpf/.test(e.message),
  );
  assert.throws(() => BpfObject.open(defaultObjectPath('sock'), { pinRoot: '/sys/fs/bpf' }), /pinRoot must be an existing folder on a bpf filesystem/);
});

test('a program the verifier rejects fails with TND_BPF_LOAD carrying the verifier log', (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-badbpf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const obj = join(dir, 'bad.bpf.o');
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-c', fileURLToPath(new URL('./fixtures/bad-verifier.bpf.c', import.meta.url)), '-o', obj]);
  assert.throws(
    () => BpfObject.open(obj, { pinRoot: net.pinRoot }),
    (e: Error & { code?: string; context?: { log?: string; errno?: number } }) =>
      e.code === 'TND_BPF_LOAD' && /invalid access to packet/.test(e.context?.log ?? '') && e.context?.errno === 13,
  );
});
