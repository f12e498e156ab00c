/**
 * Sockmap fast path: sockops puts established sockets of the attached cgroup into the sockhash
 * and sk_msg redirects each send straight to the local peer. Data must arrive byte-exact (random
 * payloads up to 64 KiB, each echo compared), the redirect counter must move only when the fast
 * path is on, and a peer that is not in the sockhash (the remote pod over the veth) falls back to
 * normal TCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { startDatapath, startTool, runTool } from '../helpers/datapath.js';

interface PingPong { ok: boolean; mismatch: unknown; iterations: number; bytes: number; p50us: number }

test('sk_msg redirect between local ends carries data byte-exact; off switch and fallback work', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  net.addPod('a', 1);
  const b = net.addPod('b', 2);
  const dp = startDatapath(net, { features: { sockmap: true, redirect: false } });

  const before = dp.stats();
  const [on] = await runTool<PingPong>(net, 'a', ['pingpong', '127.0.0.1', '400', '65536']);
  assert.ok(on!.ok, `byte-exact with sockmap: ${JSON.stringify(on)}`);
  const mid = dp.stats();
  assert.ok(mid.SOCKMAP_INSERT - before.SOCKMAP_INSERT >= 2n, 'both ends were inserted');
  assert.ok(mid.SK_MSG_REDIRECT - before.SK_MSG_REDIRECT >= 800n, `every send was redirected (${mid.SK_MSG_REDIRECT - before.SK_MSG_REDIRECT})`);

  dp.setFeatures({ sockmap: false, redirect: false });
  const [off] = await runTool<PingPong>(net, 'a', ['pingpong', '127.0.0.1', '200', '65536']);
  assert.ok(off!.ok, `byte-exact without sockmap: ${JSON.stringify(off)}`);
  const after = dp.stats();
  assert.equal(after.SK_MSG_REDIRECT, mid.SK_MSG_REDIRECT, 'no redirects with the fast path off');

  // app -> proxy hop across two processes: connect4 redirects the app's dial of a pod address to
  // a local "proxy" (echo) listener, and sk_msg short-circuits both directions of that hop.
  const a = net.pod('a');
  await startTool(net, 'a', ['serve-echo', '127.0.0.1', '15001']);
  dp.policy.setCgroupIdentity(a.cgroup, 1001);
  dp.policy.setIdentity('10.250.9.9', 1002);
  dp.policy.setRedirects([{ srcIdentity: 1001, dstIdentity: 1002, port: 80, proto: 6, proxyIp: '127.0.0.1', proxyPort: 15001 }]);
  dp.setFeatures({ sockmap: true, redirect: true });
  const h0 = dp.stats();
  const [hop] = await runTool<PingPong & { peer: string }>(net, 'a', ['pingclient', '10.250.9.9', '80', '300', '65536']);
  assert.ok(hop!.ok, `byte-exact across the redirected hop: ${JSON.stringify(hop)}`);
  assert.equal(hop!.peer, '10.250.9.9:80', 'the app still sees the address it dialed');
  const h1 = dp.stats();
  assert.equal(h1.REDIRECT - h0.REDIRECT, 1n);
  assert.ok(h1.SK_MSG_REDIRECT - h0.SK_MSG_REDIRECT >= 600n, `both directions short-circuited (${h1.SK_MSG_REDIRECT - h0.SK_MSG_REDIRECT})`);

  // Fallback: with the fast path on, a connection to another pod (peer not local) is plain TCP.
  await startTool(net, 'b', ['serve-tcp', b.ip, '8080', 'b']);
  const r = await runTool<{ reply?: string }>(net, 'a', ['connect', b.ip, '8080', '3']);
  assert.ok(r.every((x) => x.reply?.startsWith('b saw 10.250.1.2')), JSON.stringify(r));
});
