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

  // Fallback: with the fast path on, a connection to another pod (peer not local) is plain TCP.
  dp.setFeatures({ sockmap: true, redirect: false });
  await startTool(net, 'b', ['serve-tcp', b.ip, '8080', 'b']);
  const r = await runTool<{ reply?: string }>(net, 'a', ['connect', b.ip, '8080', '3']);
  assert.ok(r.every((x) => x.reply?.startsWith('b saw 10.250.1.2')), JSON.stringify(r));
});
