/**
 * Egress enforcement in tnd_tc_egress with BPF_PROG_TEST_RUN on hand-built frames (docs/dns.md
 * "Datapath"): a pod under egress enforcement reaches the DNS server and a learned FQDN address
 * (its ipcache identity), a never-learned address is dropped with reason 133 and an EGRESS drop
 * event, an explicit egress deny with 181 and its policy id; replies of flows into the pod pass;
 * when a learned address is withdrawn, new flows to it drop while an existing flow keeps going.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { BpfObject, defaultObjectPath, dropEvent, DIR, EP_FLAGS, POLICY_EGRESS, VERDICT, type DropEvent } from '../../native/index.js';

const OK = 0;
const SHOT = 2;

function frame(p: { src: string; dst: string; proto: 6 | 17; sport: number; dport: number }): Buffer {
  const l4 = p.proto === 6 ? 20 : 8;
  const b = Buffer.alloc(14 + 20 + l4);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(20 + l4, 16);
  b[22] = 64;
  b[23] = p.proto;
  p.src.split('.').forEach((x, i) => (b[26 + i] = Number(x)));
  p.dst.split('.').forEach((x, i) => (b[30 + i] = Number(x)));
  b.writeUInt16BE(p.sport, 34);
  b.writeUInt16BE(p.dport, 36);
  if (p.proto === 6) b[46] = 0x50;
  return b;
}

test('tc egress enforcement: learned FQDN identities pass, others drop with EGRESS events (BPF_PROG_TEST_RUN)', (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const tc = BpfObject.open(defaultObjectPath('tc'), { pinRoot: net.pinRoot });
  net.onTeardown(() => tc.close({ unpin: true }));
  const events: DropEvent[] = [];
  const ring = tc.ringBuffer('tendril_events', (rec) => events.push(dropEvent.decode(rec)));
  net.onTeardown(() => ring.close());

  const POD = '10.0.0.2';
  const DNS = '10.0.0.53';
  const LEARNED = '52.1.1.1';
  const FQDN_ID = 16_777_217; // a local (CIDR/FQDN) identity, Cilium's 1<<24 scope
  tc.map('tendril_endpoint').set(POD, { epId: 9, identity: 2002, flags: EP_FLAGS.ENFORCE_EGRESS });
  tc.map('tendril_endpoint').set('10.0.0.3', { epId: 10, identity: 2003, flags: 0 });
  tc.map('tendril_ipcache').set(DNS, { identity: 1053, flags: 0 });
  tc.map('tendril_ipcache').set(LEARNED, { identity: FQDN_ID, flags: 0 });
  const pol = tc.map('tendril_policy');
  const eg = 9 + POLICY_EGRESS;
  pol.set({ epId: eg, identity: 1053, port: 53, proto: 17 }, { verdict: VERDICT.REDIRECT, proxyPort: 0, policyId: 1 });
  pol.set({ epId: eg, identity: FQDN_ID, port: 443, proto: 6 }, { verdict: VERDICT.ALLOW, proxyPort: 0, policyId: 2 });
  pol.set({ epId: eg, identity: 0, port: 25, proto: 6 }, { verdict: VERDICT.DENY, proxyPort: 0, policyId: 6 });
  // An ingress entry with the same ep_id must not leak into egress.
  pol.set({ epId: 9, identity: 2, port: 443, proto: 6 }, { verdict: VERDICT.ALLOW, proxyPort: 0, policyId: 7 });

  const rows: Array<{ name: string; pkt: Buffer; want: number; reason?: number; policyId?: number; dstIdentity?: number }> = [
    { name: 'DNS to the DNS server (UDP 53)', pkt: frame({ src: POD, dst: DNS, proto: 17, sport: 33000, dport: 53 }), want: OK },
    { name: 'learned FQDN address, 443', pkt: frame({ src: POD, dst: LEARNED, proto: 6, sport: 41000, dport: 443 }), want: OK },
    { name: 'learned address, other port', pkt: frame({ src: POD, dst: LEARNED, proto: 6, sport: 41001, dport: 8443 }), want: SHOT, reason: 133, policyId: 0, dstIdentity: FQDN_ID },
    { name: 'never-learned address', pkt: frame({ src: POD, dst: '52.1.1.9', proto: 6, sport: 41002, dport: 443 }), want: SHOT, reason: 133, policyId: 0, dstIdentity: 2 },
    { name: 'explicit egress deny', pkt: frame({ src: POD, dst: LEARNED, proto: 6, sport: 41003, dport: 25 }), want: SHOT, reason: 181, policyId: 6, dstIdentity: FQDN_ID },
    { name: 'endpoint without egress enforcement', pkt: frame({ src: '10.0.0.3', dst: '52.1.1.9', proto: 6, sport: 1, dport: 443 }), want: OK },
    { name: 'not our endpoint', pkt: frame({ src: '10.0.0.77', dst: '52.1.1.9', proto: 6, sport: 1, dport: 443 }), want: OK },
  ];
  for (const r of rows) {
    const before = events.length;
    assert.equal(tc.testRun('tnd_tc_egress', r.pkt).retval, r.want, r.name);
    ring.drain();
    if (r.want === SHOT) {
      assert.equal(events.length, before + 1, `${r.name}: one drop event`);
      const ev = events[events.length - 1]!;
      assert.equal(ev.dir, DIR.EGRESS, `${r.name}: dir`);
      assert.equal(ev.reason, r.reason, `${r.name}: reason`);
      assert.equal(ev.policyId, r.policyId, `${r.name}: policy id`);
      assert.equal(ev.srcIdentity, 2002, `${r.name}: source identity`);
      assert.equal(ev.dstIdentity, r.dstIdentity, `${r.name}: destination identity`);
      assert.equal(ev.saddr, POD);
    } else {
      assert.equal(events.length, before, `${r.name}: no drop event`);
    }
  }

  // Replies of a flow INTO the pod pass egress (recorded at ingress even without ingress enforcement).
  const replyOut = frame({ src: POD, dst: '10.0.0.1', proto: 6, sport: 8080, dport: 5555 });
  assert.equal(tc.testRun('tnd_tc_egress', replyOut).retval, SHOT, 'unsolicited outgoing: dropped');
  assert.equal(tc.testRun('tnd_tc_ingress', frame({ src: '10.0.0.1', dst: POD, proto: 6, sport: 5555, dport: 8080 })).retval, OK);
  assert.equal(tc.testRun('tnd_tc_egress', replyOut).retval, OK, 'reply of an inbound flow: passes');

  // The learned address expires (identity withdrawn from the ipcache): new flows drop, the
  // established flow (41000 -> 443, recorded when it was allowed) is not cut.
  tc.map('tendril_ipcache').delete(LEARNED);
  ring.drain();
  const before = events.length;
  assert.equal(tc.testRun('tnd_tc_egress', frame({ src: POD, dst: LEARNED, proto: 6, sport: 41010, dport: 443 })).retval, SHOT, 'new flow after expiry');
  assert.equal(tc.testRun('tnd_tc_egress', frame({ src: POD, dst: LEARNED, proto: 6, sport: 41000, dport: 443 })).retval, OK, 'existing flow kept');
  ring.drain();
  assert.equal(events.length, before + 1);
  assert.equal(events[events.length - 1]!.dstIdentity, 2, 'expired address is plain world');
});
