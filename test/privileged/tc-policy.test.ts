/**
 * L3/L4 enforcement at tc ingress on a pod veth, with entries resolved by the real policy engine:
 * allowed ports connect, a port under ingressDeny and a default-denied port are dropped (the
 * client times out), and each drop arrives through the ring buffer as a DROPPED flow naming the
 * reason and the deciding policy. Replies of connections the pod started pass (tendril_ct).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { startDatapath, startTool, runTool } from '../helpers/datapath.js';
import { shopEngine, SHOP_PORTS } from '../helpers/shop-policy.js';
import { resolvePolicy } from '../../datapath/index.js';
import type { Flow } from '../../observe/index.js';
import type { DropEvent } from '../../native/index.js';

interface ConnResult { reply?: string; error?: string; ms: number }

test('tc ingress drops denied L4 traffic and reports it as flows with the policy reason', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const client = net.addPod('client', 1);
  const web = net.addPod('web', 2);
  const engine = shopEngine(client.ip, web.ip);
  const dp = startDatapath(net, { endpointByIp: (ip) => engine.endpointByIp(ip), nodeName: 'ci-node' });

  const drops: Array<{ flow: Flow; ev: DropEvent }> = [];
  dp.onDrop((flow, ev) => drops.push({ flow, ev }));

  const eps = [
    { name: 'shop/client', ip: client.ip, identity: 1001, epId: 1 },
    { name: 'shop/web', ip: web.ip, identity: 1002, epId: 2 },
  ];
  const resolved = resolvePolicy(engine, eps, SHOP_PORTS, { proxyFor: () => null });
  for (const e of eps) {
    dp.policy.setIdentity(e.ip, e.identity);
    const r = resolved.endpoints.get(e.epId)!;
    dp.policy.setEndpoint(e.ip, { epId: e.epId, identity: e.identity, enforceIngress: r.enforce });
    dp.policy.setEndpointPolicy(e.epId, r.entries);
  }
  assert.equal(resolved.endpoints.get(2)!.enforce, true, 'web is under ingress enforcement');
  for (const e of eps) dp.attachPod(net.pod(e.name.split('/')[1]!).nsPath, net.pod(e.name.split('/')[1]!).ifname);

  for (const port of ['8080', '8081', '9090', '7070']) await startTool(net, 'web', ['serve-tcp', web.ip, port, `web${port}`]);

  const ok = await runTool<ConnResult>(net, 'client', ['connect', web.ip, '8080', '3']);
  assert.ok(ok.every((r) => r.reply?.startsWith('web8080 saw 10.250.1.2')), JSON.stringify(ok));

  const denied = await runTool<ConnResult>(net, 'client', ['connect', web.ip, '9090', '1']);
  assert.equal(denied[0]!.error, 'ETIMEDOUT', 'SYNs to an ingressDeny port are dropped');
  const defaultDenied = await runTool<ConnResult>(net, 'client', ['connect', web.ip, '7070', '1']);
  assert.equal(defaultDenied[0]!.error, 'ETIMEDOUT', 'SYNs to a port no rule allows are dropped');

  // Drop events arrive asynchronously on the event loop (bounded wait).
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !(drops.some((d) => d.ev.dport === 9090) && drops.some((d) => d.ev.dport === 7070))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const d9090 = drops.find((d) => d.ev.dport === 9090);
  const d7070 = drops.find((d) => d.ev.dport === 7070);
  assert.ok(d9090 && d7070, `drop events for both ports, got ${JSON.stringify(drops.map((d) => d.ev.dport))}`);
  assert.equal(d9090.ev.reason, 181);
  assert.equal(d9090.flow.verdict, 'DROPPED');
  assert.equal(d9090.flow.drop_reason_desc, 'POLICY_DENY');
  assert.deepEqual(d9090.flow.ingress_denied_by, [{ namespace: 'shop', name: 'deny-admin' }]);
  assert.deepEqual(d9090.flow.IP, { source: client.ip, destination: web.ip, ipVersion: 'IPv4' });
  assert.equal(d9090.flow.l4?.TCP?.destination_port, 9090);
  assert.equal(d9090.flow.source?.pod_name, 'client');
  assert.equal(d9090.flow.source?.identity, 1001);
  assert.equal(d9090.flow.destination?.pod_name, 'web');
  assert.equal(d9090.flow.node_name, 'ci-node');
  assert.equal(d7070.ev.reason, 133);
  assert.equal(d7070.flow.drop_reason_desc, 'POLICY_DENIED');
  assert.deepEqual(d7070.flow.ingress_denied_by, [{ name: 'default-deny' }]);
  assert.ok(drops.every((d) => d.ev.dport !== 8080), 'nothing allowed was dropped');

  // Incremental policy change: allow 7070 by adding one entry; only that key is written.
  const before = dp.policy.writes;
  dp.policy.setEndpointPolicy(2, [...resolved.endpoints.get(2)!.entries, { identity: 1001, port: 7070, proto: 6, verdict: 'allow', policy: 'shop/extra' }]);
  assert.equal(dp.policy.writes - before, 1);
  const nowOk = await runTool<ConnResult>(net, 'client', ['connect', web.ip, '7070', '1']);
  assert.ok(nowOk[0]!.reply?.startsWith('web7070'), JSON.stringify(nowOk));

  const st = dp.stats();
  assert.ok(st.TC_DROP >= 2n && st.TC_ALLOW >= 3n, JSON.stringify({ drop: String(st.TC_DROP), allow: String(st.TC_ALLOW) }));
});
