/**
 * tnd_tc_ingress / tnd_tc_egress run with BPF_PROG_TEST_RUN on hand-built frames (no attach, no
 * netns traffic): the policy lookup order (exact, any-port, any-identity, any-proto), explicit
 * deny vs default deny reasons, world identity for unknown sources, conntrack-lite replies, and
 * pass-through of what is not ours. One row per case, verdict and drop event checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { BpfObject, defaultObjectPath, dropEvent, EP_FLAGS, VERDICT, type DropEvent } from '../../native/index.js';

const OK = 0;
const SHOT = 2;

function frame(p: { src: string; dst: string; proto: 6 | 17; sport: number; dport: number; etherType?: number; truncate?: number }): Buffer {
  const l4 = p.proto === 6 ? 20 : 8;
  const b = Buffer.alloc(14 + 20 + l4);
  b.writeUInt16BE(p.etherType ?? 0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(20 + l4, 16);
  b[22] = 64;
  b[23] = p.proto;
  p.src.split('.').forEach((x, i) => (b[26 + i] = Number(x)));
  p.dst.split('.').forEach((x, i) => (b[30 + i] = Number(x)));
  b.writeUInt16BE(p.sport, 34);
  b.writeUInt16BE(p.dport, 36);
  if (p.proto === 6) b[46] = 0x50; // data offset 5, flags 0x02 (SYN) below
  if (p.proto === 6) b[47] = 0x02;
  return p.truncate ? b.subarray(0, p.truncate) : b;
}

test('tc program lookup order, reasons and pass-through (BPF_PROG_TEST_RUN)', (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const tc = BpfObject.open(defaultObjectPath('tc'), { pinRoot: net.pinRoot });
  net.onTeardown(() => tc.close({ unpin: true }));
  const events: DropEvent[] = [];
  const ring = tc.ringBuffer('tendril_events', (rec) => events.push(dropEvent.decode(rec)));
  net.onTeardown(() => ring.close());

  const EP = '10.0.0.2';
  tc.map('tendril_endpoint').set(EP, { epId: 7, identity: 2002, flags: EP_FLAGS.ENFORCE_INGRESS });
  tc.map('tendril_endpoint').set('10.0.0.3', { epId: 8, identity: 2003, flags: 0 });
  tc.map('tendril_ipcache').set('10.0.0.1', { identity: 1001, flags: 0 });
  tc.map('tendril_ipcache').set('10.0.0.5', { identity: 1005, flags: 0 });
  const pol = tc.map('tendril_policy');
  pol.set({ epId: 7, identity: 1001, port: 80, proto: 6 }, { verdict: VERDICT.ALLOW, proxyPort: 0, policyId: 1 });
  pol.set({ epId: 7, identity: 1001, port: 0, proto: 17 }, { verdict: VERDICT.ALLOW, proxyPort: 0, policyId: 2 });
  pol.set({ epId: 7, identity: 0, port: 443, proto: 6 }, { verdict: VERDICT.DENY, proxyPort: 0, policyId: 3 });
  pol.set({ epId: 7, identity: 1001, port: 443, proto: 6 }, { verdict: VERDICT.ALLOW, proxyPort: 0, policyId: 4 });
  pol.set({ epId: 7, identity: 1005, port: 0, proto: 0 }, { verdict: VERDICT.REDIRECT, proxyPort: 15001, policyId: 5 });

  const rows: Array<{ name: string; pkt: Buffer; want: number; reason?: number; policyId?: number; srcIdentity?: number }> = [
    { name: 'exact allow', pkt: frame({ src: '10.0.0.1', dst: EP, proto: 6, sport: 40000, dport: 80 }), want: OK },
    { name: 'default deny (no entry)', pkt: frame({ src: '10.0.0.1', dst: EP, proto: 6, sport: 40000, dport: 81 }), want: SHOT, reason: 133, policyId: 0, srcIdentity: 1001 },
    { name: 'any-port allow for UDP', pkt: frame({ src: '10.0.0.1', dst: EP, proto: 17, sport: 5000, dport: 9999 }), want: OK },
    { name: 'specific allow beats any-identity deny', pkt: frame({ src: '10.0.0.1', dst: EP, proto: 6, sport: 40001, dport: 443 }), want: OK },
    { name: 'any-identity deny', pkt: frame({ src: '10.0.0.9', dst: EP, proto: 6, sport: 40002, dport: 443 }), want: SHOT, reason: 181, policyId: 3, srcIdentity: 2 },
    { name: 'any-proto redirect passes', pkt: frame({ src: '10.0.0.5', dst: EP, proto: 17, sport: 1, dport: 53 }), want: OK },
    { name: 'not enforced endpoint', pkt: frame({ src: '10.0.0.9', dst: '10.0.0.3', proto: 6, sport: 1, dport: 22 }), want: OK },
    { name: 'not our endpoint', pkt: frame({ src: '10.0.0.9', dst: '10.0.0.77', proto: 6, sport: 1, dport: 22 }), want: OK },
    { name: 'not IPv4 (ARP)', pkt: frame({ src: '10.0.0.9', dst: EP, proto: 6, sport: 1, dport: 22, etherType: 0x0806 }), want: OK },
  ];
  for (const r of rows) {
    const before = events.length;
    const res = tc.testRun('tnd_tc_ingress', r.pkt);
    assert.equal(res.retval, r.want, r.name);
    ring.drain();
    if (r.want === SHOT) {
      assert.equal(events.length, before + 1, `${r.name}: one drop event`);
      const ev = events[events.length - 1]!;
      assert.equal(ev.reason, r.reason, `${r.name}: reason`);
      assert.equal(ev.policyId, r.policyId, `${r.name}: policy id`);
      assert.equal(ev.srcIdentity, r.srcIdentity, `${r.name}: source identity`);
      assert.equal(ev.dstIdentity, 2002);
      assert.equal(ev.daddr, EP);
    } else {
      assert.equal(events.length, before, `${r.name}: no drop event`);
    }
  }

  // conntrack-lite: the pod's own outgoing flow lets its reply in despite default deny.
  const reply = frame({ src: '10.0.0.9', dst: EP, proto: 6, sport: 8443, dport: 41000 });
  assert.equal(tc.testRun('tnd_tc_ingress', reply).retval, SHOT, 'unsolicited: dropped');
  assert.equal(tc.testRun('tnd_tc_egress', frame({ src: EP, dst: '10.0.0.9', proto: 6, sport: 41000, dport: 8443 })).retval, OK);
  assert.equal(tc.testRun('tnd_tc_ingress', reply).retval, OK, 'reply of a flow the pod started: passes');

  const perPacket = tc.testRun('tnd_tc_ingress', rows[0]!.pkt, 100000).durationNs;
  assert.ok(perPacket > 0 && perPacket < 100000, `per-packet cost ${perPacket} ns`);
  process.stdout.write(`# tnd_tc_ingress allowed packet: ${perPacket} ns per run (BPF_PROG_TEST_RUN, 100k repeats)\n`);
});
