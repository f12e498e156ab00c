/**
 * Transparent connections that require mutual authentication (docs/identity.md "Transparent
 * connections" and "Same-node traffic"). Two nodes in two network namespaces as in
 * identity-netns.test.ts (node-a 10.250.1.2, node-b 10.250.2.2), each with its own in-test SPIRE
 * agent; node-a runs the eBPF datapath on its pod cgroup and has NO standalone redirect. A
 * process on node-a dials the payment-service pod address itself: connect4 sends it to the
 * outbound tunnel listener, which recovers the original destination from the tuple map and
 * carries it through the mTLS tunnel, so node-b's proxy judges it (allowed path 200, /admin 403).
 * A pod without an SVID is refused (DROPPED, AUTH_REQUIRED), never sent in plaintext; plaintext
 * that reaches node-b's proxy is denied there. A same-node destination whose policy requires
 * authentication (ledger on node-a) is refused: no tunnel authenticates same-node traffic, while
 * a source allowed there without authentication keeps its plain TCP path.
 */
import { spawn } from 'node:child_process';
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
import { OpensslPki } from '../identity/pki.js';

const TD = 'cluster.local';
const NODE_A = '10.250.1.2';
const NODE_B = '10.250.2.2';
const CHECKOUT = '10.250.1.20';
const LEDGER = '10.250.1.30';
const ROGUE = '10.250.1.66';
const PAY = '10.250.2.10';
const idOf = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

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
  - fromEndpoints: [{matchLabels: {app: rogue-service}}]
    authentication: {mode: required}
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ledger-auth, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: ledger}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: checkout-service, k8s:io.kubernetes.pod.namespace: checkout}}]
    authentication: {mode: required}
    toPorts:
    - ports: [{port: "9090", protocol: TCP}]
  - fromEndpoints: [{matchLabels: {app: rogue-service}}]
    toPorts:
    - ports: [{port: "9090", protocol: TCP}]
`;

const WORLD = `namespaces: [{name: payments}, {name: checkout}]
endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${PAY}], serviceAccount: payment-service, node: node-b}
  - {name: checkout-service-0, namespace: checkout, labels: {app: checkout-service}, ips: [${CHECKOUT}], serviceAccount: checkout-service, node: node-a}
  - {name: ledger-0, namespace: payments, labels: {app: ledger}, ips: [${LEDGER}], serviceAccount: ledger, node: node-a}
  - {name: rogue-service-0, namespace: payments, labels: {app: rogue-service}, ips: [${ROGUE}], node: node-a}
nodes:
  - {name: node-a, address: ${NODE_A}}
  - {name: node-b, address: ${NODE_B}}
`;

const UPSTREAM = `require('node:http').createServer((q, s) => s.end('payment ok ' + q.url)).listen(8080, '${PAY}', () => console.log('LISTENING'))`;
const LEDGER_SERVER = `require('node:net').createServer((c) => { console.log('ACCEPTED ' + c.remoteAddress); c.end('ledger plaintext\\n'); }).listen(9090, '${LEDGER}', () => console.log('LISTENING'))`;

test('transparent connections that require authentication: tunnel to another node, refused on the same node', { timeout: 120_000 }, async (t) => {
  if (!privilegedOrSkip(t, { netns: true, cgroup: true, bpf: true })) return;
  const net = PodNetwork.create(t);
  const a = net.addPod('nodea', 1);
  const b = net.addPod('nodeb', 2);
  for (const [pod, ips] of [[a, [CHECKOUT, LEDGER, ROGUE]], [b, [PAY]]] as const) {
    for (const ip of ips) sh('ip', ['-n', pod.ns, 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tendril-identity-transparent-'));
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
  const entry = (ns: string, sa: string, name: string) => [{ id: idOf(ns, sa), leaf: pki.leaf(name, int, `URI:${idOf(ns, sa)}`), intermediates: [int] }];
  for (const s of [spireA, spireB]) {
    s.bundles.set(TD, [root]);
    s.workload = [{ id: idOf('kube-system', 'tendril'), leaf: pki.leaf(`node-${s === spireA ? 'a' : 'b'}`, int, `URI:${idOf('kube-system', 'tendril')}`), intermediates: [int] }];
  }
  spireA.entries.set('k8s:ns:checkout,k8s:sa:checkout-service', entry('checkout', 'checkout-service', 'checkout'));
  spireA.entries.set('k8s:ns:payments,k8s:sa:ledger', entry('payments', 'ledger', 'ledger'));
  spireB.entries.set('k8s:ns:payments,k8s:sa:payment-service', entry('payments', 'payment-service', 'pay'));
  for (const s of [spireA, spireB]) await s.start();
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(join(dir, 'world.yaml'), WORLD);

  const up = net.spawn('nodeb', process.execPath, ['-e', UPSTREAM]);
  await waitForLine(up, /LISTENING/);
  const ledger = net.spawn('nodea', process.execPath, ['-e', LEDGER_SERVER]);
  let ledgerOut = '';
  ledger.stdout!.on('data', (d: Buffer) => (ledgerOut += d));
  await waitForLine(ledger, /LISTENING/);

  const agents = (['a', 'b'] as const).map((n) => {
    const ip = n === 'a' ? NODE_A : NODE_B;
    const spire = n === 'a' ? spireA : spireB;
    const sets = [
      `nodeName=node-${n}`,
      `standalone.policies=[${join(dir, 'policy.yaml')}]`,
      `standalone.world=${join(dir, 'world.yaml')}`,
      `health.listenAddress=${ip}:9879`,
      `hubble.listenAddress=${ip}:4245`,
      `hubble.metrics.listenAddress=${ip}:9965`,
      'hubble.store.enabled=false',
      'identity.enabled=true',
      `identity.workloadApiSocket=unix://${spire.socket}`,
      `identity.delegatedIdentitySocket=unix://${spire.socket}`,
      `identity.tunnel.listen=${ip}:15008`,
      ...(n === 'a'
        ? [
            // The datapath on node-a's pod cgroup (every process spawned in nodea is in it); no
            // standalone redirect: only the datapath sends connections into the tunnel.
            'datapath.enabled=true',
            `datapath.cgroupRoot=${a.cgroup}`,
            `datapath.pinRoot=/sys/fs/bpf/tendril-ci-${net.id}`,
            `identity.tunnel.outbound=${NODE_A}:15001`,
            "standalone.redirects=[]",
          ]
        : ['datapath.enabled=false', `standalone.redirects=[{listen: "${NODE_B}:15080", destination: "payments/payment-service-0:8080", upstream: "${PAY}:8080"}]`]),
    ];
    // node-a's agent stays outside the pod cgroup its datapath attaches to, as on a real node
    // (its own upstream connections must not be redirected): it only enters the netns.
    const argv = [TENDRIL_BIN, 'agent', ...sets.flatMap((s) => ['--set', s])];
    const child = n === 'a' ? spawn('nsenter', [`--net=${a.nsPath}`, '--', process.execPath, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] }) : net.spawn('nodeb', process.execPath, argv);
    let logs = '';
    child.stdout!.on('data', (d: Buffer) => (logs += d));
    child.stderr!.on('data', (d: Buffer) => (logs += d));
    return { child, logs: () => logs, pod: `node${n}`, ip };
  });
  const [agentA, agentB] = agents as [(typeof agents)[0], (typeof agents)[0]];
  // Before the pod network goes (its teardown kills the cgroups): the agents detach and unpin.
  net.onTeardown(() => {
    for (const ag of agents) if (ag.child.exitCode === null) ag.child.kill('SIGKILL');
  });
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
  const both = (): string => `\nnode-a:\n${agentA.logs()}\nnode-b:\n${agentB.logs()}`;
  const until = async (cond: () => Promise<boolean>, what: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`${what}${both()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const svids = async (ag: typeof agentA): Promise<string[]> => ((await status(ag))?.components?.identity?.svids ?? []).map((s: { spiffeId: string }) => s.spiffeId);
  await until(async () => (await svids(agentB)).includes(idOf('payments', 'payment-service')), 'node-b holds the payment-service SVID');
  await until(async () => (await svids(agentA)).includes(idOf('checkout', 'checkout-service')), 'node-a holds the checkout SVID');
  await until(async () => (await status(agentA))?.ready === true && (await status(agentB))?.ready === true, 'both nodes ready');
  const stA0 = await status(agentA);
  assert.equal(stA0!.components.datapath.running, true, JSON.stringify(stA0!.components.datapath));

  // checkout dials the payment-service pod address itself; it arrives through the tunnel.
  const r1 = await curl('nodea', ['--interface', CHECKOUT, '-w', ' %{http_code}', `http://${PAY}:8080/api/v1/payments/P1`]);
  assert.equal(r1.stdout, 'payment ok /api/v1/payments/P1 200', `${r1.stdout}${both()}`);
  const r403 = await curl('nodea', ['--interface', CHECKOUT, '-w', ' %{http_code}', `http://${PAY}:8080/admin`]);
  assert.match(r403.stdout, / 403$/, `judged on node-b's proxy, not sent to the pod in plaintext: ${r403.stdout}`);

  // No SVID: refused at the source, never plaintext.
  const rRogue = await curl('nodea', ['--interface', ROGUE, '-w', ' %{http_code}', `http://${PAY}:8080/api/v1/payments/P2`]);
  assert.notEqual(rRogue.code, 0, `rogue refused: ${rRogue.stdout}`);
  assert.doesNotMatch(rRogue.stdout, /payment ok/);

  // Plaintext that reaches the destination node's proxy is denied there (AUTH_REQUIRED).
  const rPlain = await curl('nodea', ['--interface', CHECKOUT, '-w', ' %{http_code}', `http://${NODE_B}:15080/api/v1/payments/P3`]);
  assert.match(rPlain.stdout, / 403$/, `plaintext denied at node-b: ${rPlain.stdout}`);

  // Same node: checkout -> ledger requires authentication and nothing authenticates it.
  const rLedger = await net.exec('nodea', 'curl', ['-s', '--max-time', '5', '--interface', CHECKOUT, `telnet://${LEDGER}:9090`], 15_000, { input: '' });
  assert.doesNotMatch(rLedger.stdout, /ledger plaintext/, `same-node plaintext must not pass${both()}`);
  assert.equal(ledgerOut.includes('ACCEPTED'), false, `the ledger pod never saw the connection: ${ledgerOut}`);
  assert.match(agentA.logs(), /ledger-0 is on this node: no tunnel authenticates same-node traffic/);
  // The redirect is per (destination, port): a source the policy allows without authentication
  // keeps its plain TCP path to the same port.
  const rPlainOk = await net.exec('nodea', 'curl', ['-s', '--max-time', '5', '--interface', ROGUE, `telnet://${LEDGER}:9090`], 15_000, { input: '' });
  assert.match(rPlainOk.stdout, /ledger plaintext/, `rogue -> ledger is allowed without authentication${both()}`);
  assert.match(ledgerOut, /ACCEPTED/);

  const stA = await status(agentA);
  const out = (stA!.components.identity.tunnel.outbound as { listen: string; tunnelled: number; refused: number; plaintext: number }[]).find((o) => o.listen === `${NODE_A}:15001`);
  assert.ok(out, JSON.stringify(stA!.components.identity.tunnel));
  assert.ok(out.tunnelled >= 2, `tunnelled ${out.tunnelled}`);
  assert.ok(out.refused >= 2, `refused ${out.refused}`);
  assert.equal(out.plaintext, 1);

  // The refusals are DROPPED flows with AUTH_REQUIRED on node-a.
  const obs = await net.exec('nodea', process.execPath, [TENDRIL_BIN, 'observe', '--server', `${NODE_A}:4245`, '--verdict', 'DROPPED', '--last', '50', '-o', 'json']);
  const drops = obs.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>).map((x) => x.flow ?? x);
  const authDrop = (dst: string) => drops.some((f) => f.drop_reason_desc === 'AUTH_REQUIRED' && f.IP?.destination === dst);
  assert.ok(authDrop(PAY) && authDrop(LEDGER), obs.stdout + obs.stderr);
  await Promise.all(agents.map((ag) => new Promise((r) => (ag.child.once('exit', r), ag.child.kill('SIGTERM')))));
});
