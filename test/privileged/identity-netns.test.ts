/**
 * Two nodes in two network namespaces (node-a 10.250.1.2, node-b 10.250.2.2, routed through
 * the run's node netns), each running `tendril agent` with identity enabled and fed by its own
 * in-test SPIRE agent on a unix socket. Pods are addresses inside their node's namespace
 * (checkout 10.250.1.20, rogue 10.250.1.66 on node-a; payment-service 10.250.2.10 on node-b).
 * The seed's checkout -> payment-service call crosses namespaces through the mTLS tunnel: it
 * succeeds only with valid SVIDs, a pod without an SVID is refused, a rotated SVID keeps the
 * stream up, an expired one ends it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork, waitForLine } from '../helpers/pod.js';
import { sh } from '../helpers/netns.js';
import { TENDRIL_BIN } from '../helpers/agent.js';
import { FakeSpire } from '../identity/fake-spire.js';
import { OpensslPki, forgeIssue } from '../identity/pki.js';

const TD = 'cluster.local';
const NODE_A = '10.250.1.2';
const NODE_B = '10.250.2.2';
const CHECKOUT = '10.250.1.20';
const ROGUE = '10.250.1.66';
const PAY = '10.250.2.10';
const idOf = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;
const KEEPALIVE = new URL('./fixtures/keepalive-client.mjs', import.meta.url).pathname;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: payment-service-l7, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: checkout-service, k8s:io.kubernetes.pod.namespace: checkout}}]
    authentication: {mode: required}
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/api/v1/payments/.*"}]
`;

const WORLD = `namespaces: [{name: payments}, {name: checkout}]
endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${PAY}], serviceAccount: payment-service, node: node-b}
  - {name: checkout-service-0, namespace: checkout, labels: {app: checkout-service}, ips: [${CHECKOUT}], serviceAccount: checkout-service, node: node-a}
  - {name: rogue-service-0, namespace: payments, labels: {app: rogue-service}, ips: [${ROGUE}], node: node-a}
nodes:
  - {name: node-a, address: ${NODE_A}}
  - {name: node-b, address: ${NODE_B}}
`;

const UPSTREAM = `require('node:http').createServer((q, s) => s.end('payment ok ' + q.url)).listen(8080, '${PAY}', () => console.log('LISTENING'))`;

test('checkout -> payment-service between two network namespaces through the mTLS tunnel', { timeout: 120_000 }, async (t) => {
  if (!privilegedOrSkip(t, { netns: true, cgroup: true })) return;
  const net = PodNetwork.create(t);
  const a = net.addPod('nodea', 1);
  const b = net.addPod('nodeb', 2);
  for (const [pod, ips] of [[a, [CHECKOUT, ROGUE]], [b, [PAY]]] as const) {
    for (const ip of ips) sh('ip', ['-n', pod.ns, 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tendril-identity-netns-'));
  const pki = new OpensslPki();
  const spireA = new FakeSpire(join(dir, 'a.sock'));
  const spireB = new FakeSpire(join(dir, 'b.sock'));
  t.after(async () => {
    await spireA.stop();
    await spireB.stop();
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const root = pki.root('root', TD);
  const int = pki.intermediate('int', root, TD);
  const rsaRoot = forgeIssue('rsa-root', undefined, { ca: true, keyUsage: { keyCertSign: true, critical: true }, uris: [`spiffe://${TD}`] });
  for (const s of [spireA, spireB]) {
    s.bundles.set(TD, [root, rsaRoot]);
    s.workload = [{ id: idOf('kube-system', 'tendril'), leaf: pki.leaf(`node-${s === spireA ? 'a' : 'b'}`, int, `URI:${idOf('kube-system', 'tendril')}`), intermediates: [int] }];
    await s.start();
  }
  spireB.entries.set('k8s:ns:payments,k8s:sa:payment-service', [{ id: idOf('payments', 'payment-service'), leaf: pki.leaf('pay', int, `URI:${idOf('payments', 'payment-service')}`), intermediates: [int] }]);
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(join(dir, 'world.yaml'), WORLD);

  const up = net.spawn('nodeb', process.execPath, ['-e', UPSTREAM]);
  await waitForLine(up, /LISTENING/);
  const agents = (['a', 'b'] as const).map((n) => {
    const ip = n === 'a' ? NODE_A : NODE_B;
    const spire = n === 'a' ? spireA : spireB;
    const sets = [
      `nodeName=node-${n}`,
      `standalone.policies=[${join(dir, 'policy.yaml')}]`,
      `standalone.world=${join(dir, 'world.yaml')}`,
      `standalone.redirects=[{listen: "${ip}:15080", destination: "payments/payment-service-0:8080", upstream: "${PAY}:8080"}]`,
      `health.listenAddress=${ip}:9879`,
      `hubble.listenAddress=${ip}:4245`,
      `hubble.metrics.listenAddress=${ip}:9965`,
      'hubble.store.enabled=false',
      'datapath.enabled=false',
      'identity.enabled=true',
      `identity.workloadApiSocket=unix://${spire.socket}`,
      `identity.delegatedIdentitySocket=unix://${spire.socket}`,
      `identity.tunnel.listen=${ip}:15008`,
    ];
    const child = net.spawn(`node${n}`, process.execPath, [TENDRIL_BIN, 'agent', ...sets.flatMap((s) => ['--set', s])]);
    let logs = '';
    child.stdout!.on('data', (d: Buffer) => (logs += d));
    child.stderr!.on('data', (d: Buffer) => (logs += d));
    return { child, logs: () => logs, pod: `node${n}`, ip };
  });
  const [agentA, agentB] = agents as [(typeof agents)[0], (typeof agents)[0]];
  const curl = async (pod: string, args: string[]): Promise<{ code: number | null; stdout: string }> => {
    const r = await net.exec(pod, 'curl', ['-s', '--max-time', '5', ...args]);
    return { code: r.code, stdout: r.stdout };
  };
  const status = async (ag: typeof agentA): Promise<Record<string, any> | null> => {
    const r = await curl(ag.pod, [`http://${ag.ip}:9879/status`]);
    try {
      return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, any>) : null;
    } catch {
      return null;
    }
  };
  const until = async (cond: () => Promise<boolean>, what: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`${what}\nnode-a:\n${agentA.logs()}\nnode-b:\n${agentB.logs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const svids = async (ag: typeof agentA): Promise<{ spiffeId: string; serial: string }[]> => (await status(ag))?.components?.identity?.svids ?? [];
  const get = (from: string, path: string) => curl('nodea', ['--interface', from, '-w', ' %{http_code}', `http://${NODE_A}:15080${path}`]);

  await until(async () => (await svids(agentB)).some((s) => s.spiffeId === idOf('payments', 'payment-service')), 'node-b holds the payment-service SVID');
  await until(async () => (await status(agentA))?.ready === true, 'node-a ready');

  // Refused while checkout has no SVID: no plaintext fallback.
  const r0 = await get(CHECKOUT, '/api/v1/payments/P0');
  assert.notEqual(r0.code, 0, `refused without an SVID: ${r0.stdout}`);

  spireA.entries.set('k8s:ns:checkout,k8s:sa:checkout-service', [{ id: idOf('checkout', 'checkout-service'), leaf: pki.leaf('checkout', int, `URI:${idOf('checkout', 'checkout-service')}`), intermediates: [int] }]);
  spireA.push();
  await until(async () => (await svids(agentA)).some((s) => s.spiffeId === idOf('checkout', 'checkout-service')), 'node-a holds the checkout SVID');
  const r1 = await get(CHECKOUT, '/api/v1/payments/P1');
  assert.equal(r1.stdout, 'payment ok /api/v1/payments/P1 200', `${r1.stdout}\n${agentA.logs()}\n${agentB.logs()}`);
  const r403 = await get(CHECKOUT, '/admin');
  assert.match(r403.stdout, / 403$/, 'L7 policy judged on node-b');
  const stA = await status(agentA);
  assert.ok(stA!.components.identity.tunnel.clientSessions.some((s: { peer: string; node: string }) => s.peer === idOf('payments', 'payment-service') && s.node === `${NODE_B}:15008`));

  // A pod without an SVID is refused.
  const rRogue = await get(ROGUE, '/api/v1/payments/P2');
  assert.notEqual(rRogue.code, 0, `rogue refused: ${rRogue.stdout}`);

  // Rotation keeps the stream up.
  const ka = net.spawn('nodea', process.execPath, [KEEPALIVE, NODE_A, '15080', CHECKOUT]);
  await waitForLine(ka, /CONNECTED/);
  ka.stdin!.write('/api/v1/payments/R1\n');
  await waitForLine(ka, /STATUS 200 payment ok \/api\/v1\/payments\/R1/);
  spireA.entries.set('k8s:ns:checkout,k8s:sa:checkout-service', [{ id: idOf('checkout', 'checkout-service'), leaf: pki.leaf('checkout2', int, `URI:${idOf('checkout', 'checkout-service')}`), intermediates: [int] }]);
  spireA.push();
  await until(async () => (await status(agentA))?.components?.identity?.rotations >= 1, 'rotation seen by node-a');
  ka.stdin!.write('/api/v1/payments/R2\n');
  await waitForLine(ka, /STATUS 200 payment ok \/api\/v1\/payments\/R2/);
  ka.kill();

  // An expired SVID ends the stream.
  const short = forgeIssue('short', rsaRoot, { uris: [idOf('checkout', 'checkout-service')], keyUsage: { digitalSignature: true, critical: true }, eku: true, seconds: 6 });
  spireA.entries.set('k8s:ns:checkout,k8s:sa:checkout-service', [{ id: idOf('checkout', 'checkout-service'), leaf: short }]);
  spireA.push();
  await until(async () => (await svids(agentA)).some((s) => s.serial === short.cert.serialNumber), 'short-lived SVID installed');
  const ka2 = net.spawn('nodea', process.execPath, [KEEPALIVE, NODE_A, '15080', CHECKOUT]);
  await waitForLine(ka2, /CONNECTED/);
  ka2.stdin!.write('/api/v1/payments/X1\n');
  await waitForLine(ka2, /STATUS 200/);
  await waitForLine(ka2, /CLOSED/, 20_000);
  assert.ok(Date.now() >= new Date(short.cert.validTo).getTime(), 'ended at the certificate expiry, not before');
  for (const ag of agents) ag.child.kill('SIGTERM');
});
