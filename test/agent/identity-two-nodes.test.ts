/**
 * Two agents as two "nodes" on loopback (node-a 127.0.161.1, node-b 127.0.161.2), each fed by
 * its own in-test SPIRE agent (Delegated Identity + Workload API on a unix socket). The seed's
 * checkout -> payment-service call crosses nodes through the mTLS tunnel: it succeeds only once
 * checkout holds a valid SVID, a pod without an SVID is refused, a rotated SVID keeps the open
 * connection working, and an expired SVID ends it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { spawnAgent, waitReady } from '../helpers/agent.js';
import { startHttpServer } from '../helpers/servers.js';
import { FakeSpire } from '../identity/fake-spire.js';
import { OpensslPki, forgeIssue, type Issued } from '../identity/pki.js';

const TD = 'cluster.local';
const A = '127.0.161.1';
const B = '127.0.161.2';
const PAY = '127.0.161.10';
const CHECKOUT = '127.0.161.20';
const ROGUE = '127.0.161.66';
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
`;

const WORLD = `namespaces: [{name: payments}, {name: checkout}]
endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${PAY}], serviceAccount: payment-service, node: node-b}
  - {name: checkout-service-0, namespace: checkout, labels: {app: checkout-service}, ips: [${CHECKOUT}], serviceAccount: checkout-service, node: node-a}
  - {name: rogue-service-0, namespace: payments, labels: {app: rogue-service}, ips: [${ROGUE}], node: node-a}
nodes:
  - {name: node-a, address: ${A}, tunnel: "${A}:15008"}
  - {name: node-b, address: ${B}, tunnel: "${B}:15008"}
`;

const pki = new OpensslPki();
const dir = mkdtempSync(join(tmpdir(), 'tendril-2nodes-'));
let root: Issued;
let int: Issued;
let rsaRoot: Issued;
const spireA = new FakeSpire(join(dir, 'a.sock'));
const spireB = new FakeSpire(join(dir, 'b.sock'));
let upstream: Awaited<ReturnType<typeof startHttpServer>>;

before(async () => {
  root = pki.root('root', TD);
  int = pki.intermediate('int', root, TD);
  rsaRoot = forgeIssue('rsa-root', undefined, { ca: true, keyUsage: { keyCertSign: true, critical: true }, uris: [`spiffe://${TD}`] });
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(join(dir, 'world.yaml'), WORLD);
  for (const [s, node] of [[spireA, 'a'], [spireB, 'b']] as const) {
    s.bundles.set(TD, [root, rsaRoot]);
    s.workload = [{ id: idOf('kube-system', `tendril-${node}`), leaf: pki.leaf(`node-${node}`, int, `URI:${idOf('kube-system', `tendril-${node}`)}`), intermediates: [int] }];
    await s.start();
  }
  spireB.entries.set('k8s:ns:payments,k8s:sa:payment-service', [{ id: idOf('payments', 'payment-service'), leaf: pki.leaf('pay', int, `URI:${idOf('payments', 'payment-service')}`), intermediates: [int] }]);
  upstream = await startHttpServer((req, res) => res.end(`payment ok ${req.url}`), PAY, 8080);
});

after(async () => {
  await spireA.stop();
  await spireB.stop();
  await upstream?.close();
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function agentSets(node: 'a' | 'b', ip: string, spire: FakeSpire): string[] {
  return [
    `nodeName=node-${node}`,
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
}

async function get(from: string, path: string): Promise<{ status: number; body: string }> {
  const dispatcher = new Agent({ localAddress: from });
  try {
    const r = await request(`http://${A}:15080${path}`, { dispatcher });
    return { status: r.statusCode, body: await r.body.text() };
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}

/** A raw keep-alive connection from a pod address to node-a's redirect. */
function connection(from: string): Promise<{ sock: net.Socket; ask(path: string): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: A, port: 15080, localAddress: from }, () => {
      resolve({
        sock,
        ask: (path) =>
          new Promise((res, rej) => {
            let buf = '';
            const onData = (d: Buffer): void => {
              buf += d.toString();
              const head = buf.indexOf('\r\n\r\n');
              const len = head >= 0 ? /content-length: (\d+)/i.exec(buf.slice(0, head)) : null;
              if (len && buf.length >= head + 4 + Number(len[1])) {
                sock.off('data', onData);
                sock.off('close', onClose);
                res(buf);
              }
            };
            const onClose = (): void => rej(new Error(`closed after ${JSON.stringify(buf)}`));
            sock.on('data', onData);
            sock.once('close', onClose);
            sock.write(`GET ${path} HTTP/1.1\r\nHost: payment\r\n\r\n`);
          }),
      });
    });
    sock.once('error', reject);
  });
}

async function statusOf(ip: string): Promise<Record<string, any>> {
  return (await (await request(`http://${ip}:9879/status`)).body.json()) as Record<string, any>;
}

test('checkout -> payment-service across two nodes through the mTLS tunnel', async (t) => {
  const agentB = spawnAgent(t, agentSets('b', B, spireB));
  const agentA = spawnAgent(t, agentSets('a', A, spireA));
  await waitReady(agentB, `${B}:9879`);
  await waitReady(agentA, `${A}:9879`);
  const until = async (cond: () => Promise<boolean>, what: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!(await cond())) {
      if (Date.now() > deadline) assert.fail(`${what}\nnode-a:\n${agentA.logs()}\nnode-b:\n${agentB.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await until(async () => (await statusOf(B)).components.identity.svids.some((s: { spiffeId: string }) => s.spiffeId === idOf('payments', 'payment-service')), 'node-b got the payment-service SVID');

  await t.test('refused while checkout has no SVID (no plaintext fallback)', async () => {
    await assert.rejects(get(CHECKOUT, '/api/v1/payments/P0'));
    const st = await statusOf(A);
    assert.ok(st.components.identity.tunnel.outbound[0].refused >= 1);

  });

  await t.test('succeeds once SPIRE issued checkout its SVID; the tunnel shows in status', async () => {
    spireA.entries.set('k8s:ns:checkout,k8s:sa:checkout-service', [{ id: idOf('checkout', 'checkout-service'), leaf: pki.leaf('checkout', int, `URI:${idOf('checkout', 'checkout-service')}`), intermediates: [int] }]);
    spireA.push();
    await until(async () => (await statusOf(A)).components.identity.svids.some((s: { spiffeId: string }) => s.spiffeId === idOf('checkout', 'checkout-service')), 'node-a got the checkout SVID');
    const r = await get(CHECKOUT, '/api/v1/payments/P1').catch(async (err: Error) => (await new Promise((r) => setTimeout(r, 1500)), assert.fail(`${err.message}\nnode-a:\n${agentA.logs()}\nnode-b:\n${agentB.logs()}`)));
    assert.equal(r.status, 200);
    assert.equal(r.body, 'payment ok /api/v1/payments/P1');
    const denied = await get(CHECKOUT, '/admin');
    assert.equal(denied.status, 403, 'L7 policy still judged on node-b');
    const st = await statusOf(A);
    assert.deepEqual(
      st.components.identity.tunnel.clientSessions.map((s: { local: string; peer: string; node: string }) => [s.local, s.peer, s.node]),
      [[idOf('checkout', 'checkout-service'), idOf('payments', 'payment-service'), `${B}:15008`]],
    );
    const stB = await statusOf(B);
    assert.ok(stB.components.identity.tunnel.sessions.some((s: { peer: string }) => s.peer === idOf('checkout', 'checkout-service')));
  });

  await t.test('a pod without an SVID is refused', async () => {
    const before = (await statusOf(A)).components.identity.tunnel.outbound[0].refused;
    await assert.rejects(get(ROGUE, '/api/v1/payments/P2'));
    assert.equal((await statusOf(A)).components.identity.tunnel.outbound[0].refused, before + 1);

  });

  await t.test('a rotated SVID keeps the open connection working', async () => {
    const c = await connection(CHECKOUT);
    assert.match(await c.ask('/api/v1/payments/R1'), /^HTTP\/1\.1 200[\s\S]*payment ok/);
    spireA.entries.set('k8s:ns:checkout,k8s:sa:checkout-service', [{ id: idOf('checkout', 'checkout-service'), leaf: pki.leaf('checkout2', int, `URI:${idOf('checkout', 'checkout-service')}`), intermediates: [int] }]);
    spireA.push();
    await until(async () => (await statusOf(A)).components.identity.rotations >= 1, 'rotation seen by node-a');
    assert.match(await c.ask('/api/v1/payments/R2'), /^HTTP\/1\.1 200[\s\S]*payment ok \/api\/v1\/payments\/R2/);
    c.sock.destroy();
    const r = await get(CHECKOUT, '/api/v1/payments/R3');
    assert.equal(r.status, 200, 'new connections use the new SVID');
  });

  await t.test('an expired SVID ends the connection', async () => {
    const short = forgeIssue('short', rsaRoot, { uris: [idOf('checkout', 'checkout-service')], keyUsage: { digitalSignature: true, critical: true }, eku: true, seconds: 5 });
    spireA.entries.set('k8s:ns:checkout,k8s:sa:checkout-service', [{ id: idOf('checkout', 'checkout-service'), leaf: short }]);
    spireA.push();
    await until(async () => (await statusOf(A)).components.identity.svids.some((s: { serial: string }) => s.serial === short.cert.serialNumber), 'short SVID installed');
    const c = await connection(CHECKOUT);
    assert.match(await c.ask('/api/v1/payments/X1'), /^HTTP\/1\.1 200/);
    await new Promise((r) => c.sock.once('close', r));
    assert.ok(Date.now() >= new Date(short.cert.validTo).getTime(), 'closed at the certificate expiry, not before');
    await assert.rejects(get(CHECKOUT, '/api/v1/payments/X2'), 'no SVID left: refused');
  });
});

test('identity.enabled with a malformed socket address exits 2 naming the key', async (t) => {
  const agent = spawnAgent(t, [
    'identity.enabled=true',
    'identity.delegatedIdentitySocket=unix:relative.sock',
    `health.listenAddress=127.0.161.3:9879`,
    'hubble.store.enabled=false',
    'datapath.enabled=false',
  ]);
  const [code] = (await once(agent.child, 'exit')) as [number];
  assert.equal(code, 2, agent.logs());
  assert.match(agent.logs(), /identity\.delegatedIdentitySocket: .*opaque|identity\.delegatedIdentitySocket: .*absolute/);
});
