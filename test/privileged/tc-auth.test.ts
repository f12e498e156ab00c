/**
 * Mutual authentication fails closed at tc: an L4 port whose allow rule requires authentication
 * (`authentication.mode: required`) is dropped at the pod's veth while nothing authenticated the
 * pair, and the drop arrives as a DROPPED flow with drop_reason_desc AUTH_REQUIRED (189) naming
 * the policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { startDatapath, startTool, runTool } from '../helpers/datapath.js';
import { shopAuthEngine, SHOP_AUTH_PORTS } from '../helpers/shop-policy.js';
import { resolvePolicy } from '../../datapath/index.js';
import type { Flow } from '../../observe/index.js';
import type { DropEvent } from '../../native/index.js';

interface ConnResult { reply?: string; error?: string; ms: number }

test('tc ingress drops auth-required L4 traffic with AUTH_REQUIRED and names the policy', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const client = net.addPod('client', 1);
  const web = net.addPod('web', 2);
  const engine = shopAuthEngine(client.ip, web.ip);
  const dp = startDatapath(net, { endpointByIp: (ip) => engine.endpointByIp(ip), nodeName: 'ci-node' });
  const drops: Array<{ flow: Flow; ev: DropEvent }> = [];
  dp.onDrop((flow, ev) => drops.push({ flow, ev }));

  const eps = [
    { name: 'shop/client', ip: client.ip, identity: 1001, epId: 1 },
    { name: 'shop/web', ip: web.ip, identity: 1002, epId: 2 },
  ];
  const resolved = resolvePolicy(engine, eps, SHOP_AUTH_PORTS, { proxyFor: () => null });
  for (const e of eps) {
    dp.policy.setIdentity(e.ip, e.identity);
    const r = resolved.endpoints.get(e.epId)!;
    dp.policy.setEndpoint(e.ip, { epId: e.epId, identity: e.identity, enforceIngress: r.enforce });
    dp.policy.setEndpointPolicy(e.epId, r.entries);
  }
  for (const e of eps) dp.attachPod(net.pod(e.name.split('/')[1]!).nsPath, net.pod(e.name.split('/')[1]!).ifname);
  await startTool(net, 'web', ['serve-tcp', web.ip, '6060', 'web6060']);

  const refused = await runTool<ConnResult>(net, 'client', ['connect', web.ip, '6060', '1']);
  assert.equal(refused[0]!.error, 'ETIMEDOUT', 'SYNs to an auth-required port are dropped');

  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !drops.some((d) => d.ev.dport === 6060)) await new Promise((r) => setTimeout(r, 50));
  const d = drops.find((x) => x.ev.dport === 6060);
  assert.ok(d, 'a drop event for 6060');
  assert.equal(d.ev.reason, 189);
  assert.equal(d.flow.verdict, 'DROPPED');
  assert.equal(d.flow.drop_reason_desc, 'AUTH_REQUIRED');
  assert.deepEqual(d.flow.ingress_denied_by, [{ namespace: 'shop', name: 'web-mutual-auth' }]);
  assert.equal(d.flow.source?.pod_name, 'client');
  assert.equal(d.flow.auth_type, undefined);

  // The same port as a plain allow (what an authenticated pair gets) connects: the drop was the
  // auth entry's, not something else on the path.
  dp.policy.setEndpointPolicy(2, [{ identity: 1001, port: 6060, proto: 6, verdict: 'allow', policy: 'shop/web-mutual-auth' }]);
  const ok = await runTool<ConnResult>(net, 'client', ['connect', web.ip, '6060', '1']);
  assert.ok(ok[0]!.reply?.startsWith('web6060'), JSON.stringify(ok));
});
