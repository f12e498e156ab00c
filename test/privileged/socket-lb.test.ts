/**
 * Socket-LB (kube-proxy replacement) through the real kernel: a client pod reaches a ClusterIP
 * service, lands on the backends, and sees the ClusterIP as its peer (getpeername4); a service
 * without backends is refused at connect() with ECONNREFUSED; UDP to a ClusterIP is balanced by
 * sendmsg4 and the reply appears to come from the ClusterIP (recvmsg4); updates are incremental.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { startDatapath, startTool, runTool } from '../helpers/datapath.js';

interface ConnResult { peer?: { address: string; port: number }; reply?: string; error?: string; ms: number }

test('ClusterIP TCP/UDP via socket-LB; peer is the ClusterIP; no backends -> ECONNREFUSED', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const c = net.addPod('c', 1);
  const b1 = net.addPod('b1', 2);
  const b2 = net.addPod('b2', 3);
  const dp = startDatapath(net);

  await startTool(net, 'b1', ['serve-tcp', b1.ip, '8080', 'b1']);
  await startTool(net, 'b2', ['serve-tcp', b2.ip, '8080', 'b2']);
  await startTool(net, 'b1', ['serve-udp', b1.ip, '5353', 'b1']);

  dp.services.upsert({ vip: '10.96.0.10', port: 80, protocol: 'TCP', backends: [{ ip: b1.ip, port: 8080 }, { ip: b2.ip, port: 8080 }] });
  dp.services.upsert({ vip: '10.96.0.11', port: 80, protocol: 'TCP', backends: [] });
  dp.services.upsert({ vip: '10.96.0.10', port: 53, protocol: 'UDP', backends: [{ ip: b1.ip, port: 5353 }] });

  const res = await runTool<ConnResult>(net, 'c', ['connect', '10.96.0.10', '80', '24']);
  assert.equal(res.length, 24);
  const seen = new Set<string>();
  for (const r of res) {
    assert.equal(r.error, undefined, `connect failed: ${JSON.stringify(r)}`);
    assert.deepEqual(r.peer, { address: '10.96.0.10', port: 80 }, 'the client sees the ClusterIP as its peer');
    const m = /^(b1|b2) saw 10\.250\.1\.2:\d+ req\d+$/.exec(r.reply ?? '');
    assert.ok(m, `unexpected reply ${r.reply}`);
    seen.add(m[1]!);
  }
  assert.deepEqual([...seen].sort(), ['b1', 'b2'], 'both backends were used');

  const refused = await runTool<ConnResult>(net, 'c', ['connect', '10.96.0.11', '80', '1']);
  assert.equal(refused[0]!.error, 'ECONNREFUSED');
  assert.ok(refused[0]!.ms < 1000, `refused promptly, not hung (${refused[0]!.ms} ms)`);

  const udp = await runTool<{ reply?: string; from?: string; error?: string }>(net, 'c', ['udp', '10.96.0.10', '53', 'ping']);
  assert.deepEqual(udp[0], { reply: 'b1:ping', from: '10.96.0.10:53' });

  // Incremental: dropping b2 touches the count and one slot, nothing else.
  const before = dp.services.writes;
  dp.services.upsert({ vip: '10.96.0.10', port: 80, protocol: 'TCP', backends: [{ ip: b1.ip, port: 8080 }] });
  assert.equal(dp.services.writes - before, 2);
  const only = await runTool<ConnResult>(net, 'c', ['connect', '10.96.0.10', '80', '6']);
  assert.ok(only.every((r) => r.reply?.startsWith('b1 saw')), JSON.stringify(only));

  // Removing the last backend turns the service into a prompt refusal.
  dp.services.upsert({ vip: '10.96.0.10', port: 80, protocol: 'TCP', backends: [] });
  const gone = await runTool<ConnResult>(net, 'c', ['connect', '10.96.0.10', '80', '1']);
  assert.equal(gone[0]!.error, 'ECONNREFUSED');

  const st = dp.stats();
  assert.ok(st.LB_CONNECT >= 31n, `LB_CONNECT ${st.LB_CONNECT}`);
  assert.ok(st.LB_NO_BACKEND >= 2n, `LB_NO_BACKEND ${st.LB_NO_BACKEND}`);
  assert.equal(c.name, 'c');
});
