/**
 * The node-to-node mTLS tunnel with real parts on loopback: two "nodes" (a TunnelClient with the
 * source pod's SVID, a TunnelServer with the destination pod's SVID) in front of the real HTTP
 * proxy listener (acceptStream) and a real upstream. Handshake refusals name the SVID rejection
 * code; ns/sa of the claimed source must agree with the client SVID; rotation keeps an open
 * stream; a session ends at the earlier certificate expiry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import { CallbackSink } from '../../observe/index.js';
import { createEngine, loadPolicies, loadWorld } from '../../policy/index.js';
import { ExplicitRedirectSource, startProxy, type RedirectTarget } from '../../proxy/index.js';
import { TunnelClient, TunnelOutbound, TunnelServer, TunnelError, sniFor, type TunnelEvent } from '../../proxy/hbone/index.js';
import type { Flow } from '../../observe/index.js';
import net from 'node:net';
import { makeSvid, SvidStore, type Svid } from '../../identity/index.js';
import { startHttpServer } from '../helpers/servers.js';
import { OpensslPki, forgeIssue, type Issued } from '../identity/pki.js';

const TD = 'cluster.local';
const PAY_IP = '127.0.160.10';
const CHECKOUT_IP = '127.0.160.20';
const ROGUE_IP = '127.0.160.66';
const SERVER_IP = '127.0.160.2';
const idOf = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;
const PAY_ID = idOf('payments', 'payment-service');
const CHECKOUT_ID = idOf('checkout', 'checkout-service');

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: pay, namespace: payments}
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

const WORLD = `endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${PAY_IP}], serviceAccount: payment-service}
  - {name: checkout-service-0, namespace: checkout, labels: {app: checkout-service}, ips: [${CHECKOUT_IP}], serviceAccount: checkout-service}
  - {name: rogue-service-0, namespace: payments, labels: {app: rogue-service}, ips: [${ROGUE_IP}]}
`;

const pki = new OpensslPki();
const dir = mkdtempSync(join(tmpdir(), 'tendril-hbone-'));
let root: Issued;
let oroot: Issued;
let rsaRoot: Issued;
let int: Issued;
const svids: Record<string, Svid> = {};
const serverStore = new SvidStore();
const events: TunnelEvent[] = [];
const targets: RedirectTarget[] = [];
let server: TunnelServer;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let upstream: Awaited<ReturnType<typeof startHttpServer>>;

function svid(name: string, id: string, leafOpts: Record<string, string | null> = {}, issuer?: Issued): Svid {
  const leaf = pki.leaf(name, issuer ?? int, `URI:${id}`, leafOpts);
  return makeSvid(id, Buffer.concat([leaf.certDer, ...(issuer ? [] : [int.certDer])]), leaf.keyDer);
}

function bundlesOf(...roots: Issued[]): Map<string, import('node:crypto').X509Certificate[]> {
  const m = new Map<string, import('node:crypto').X509Certificate[]>();
  m.set(TD, roots.filter((r) => r !== oroot).map((r) => r.cert));
  if (roots.includes(oroot)) m.set('other.org', [oroot.cert]);
  return m;
}

function clientStore(...list: Svid[]): SvidStore {
  const s = new SvidStore();
  s.setBundles(bundlesOf(root, oroot, rsaRoot));
  s.replace('test', list);
  return s;
}

function httpOver(stream: Duplex, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error): void => {
      stream.off('data', onData);
      stream.off('error', done);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve(buf);
    };
    const onClose = (): void => done(new Error(`stream closed after ${JSON.stringify(buf)}`));
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = /content-length: (\d+)/i.exec(buf.slice(0, head));
      if (len && buf.length >= head + 4 + Number(len[1])) done();
    };
    stream.on('data', onData);
    stream.once('error', done);
    stream.once('close', onClose);
    stream.write(`GET ${path} HTTP/1.1\r\nHost: payment\r\n\r\n`);
  });
}

before(async () => {
  root = pki.root('root', TD);
  oroot = pki.root('oroot', 'other.org');
  int = pki.intermediate('int', root, TD);
  rsaRoot = forgeIssue('rsa-root', undefined, { ca: true, keyUsage: { keyCertSign: true, critical: true }, uris: [`spiffe://${TD}`] });
  svids['pay'] = svid('pay', PAY_ID);
  svids['checkout'] = svid('checkout', CHECKOUT_ID);
  svids['checkout2'] = svid('checkout2', CHECKOUT_ID);
  svids['checkoutCa'] = svid('checkout-ca', CHECKOUT_ID, { basicConstraints: 'critical,CA:TRUE' });
  svids['checkoutOther'] = svid('checkout-other', `spiffe://other.org/ns/checkout/sa/checkout-service`);
  serverStore.setBundles(bundlesOf(root, oroot, rsaRoot));
  serverStore.replace('test', [svids['pay']!]);

  writeFileSync(join(dir, 'p.yaml'), POLICY);
  writeFileSync(join(dir, 'world.yaml'), WORLD);
  const world = loadWorld(join(dir, 'world.yaml'));
  const engine = createEngine({ policies: loadPolicies([join(dir, 'p.yaml')]), world });
  upstream = await startHttpServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`payment ok ${req.url}`);
  }, PAY_IP, 8080);
  proxy = await startProxy({
    engine,
    redirects: [{ listen: { host: SERVER_IP, port: 0 }, protocol: 'http', source: new ExplicitRedirectSource({ destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: PAY_IP, port: 8080 } }, (ip) => engine.endpointByIp(ip)) }],
    log: pino({ level: 'silent' }),
    flows: new CallbackSink(() => undefined),
  });
  const ep = (ip: string) => {
    const e = world.byIp.get(ip);
    return e ? { endpoint: e.id, namespace: e.namespace, serviceAccount: e.serviceAccount } : null;
  };
  server = new TunnelServer({
    listen: { host: SERVER_IP, port: 0 },
    store: serverStore,
    trustDomain: TD,
    localEndpoint: (ip) => (ip === PAY_IP ? ep(ip) : null),
    endpointByIp: ep,
    route: (t) => {
      targets.push(t);
      return t.destination.port === 8080 ? proxy.listeners[0]! : null;
    },
    judgeL4: (t) => (t.destination.port === 7000 ? null : `port ${t.destination.port} denied by policy`),
    onEvent: (e) => events.push(e),
    log: pino({ level: 'silent' }),
  });
  await server.start();
});

after(async () => {
  await server?.stop();
  await proxy?.close();
  await upstream?.close();
  serverStore.close();
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function openArgs(source: Svid, extra: Partial<Parameters<TunnelClient['open']>[0]> = {}): Parameters<TunnelClient['open']>[0] {
  return { source, destinationId: PAY_ID, peer: server.address, authority: `${PAY_IP}:8080`, forwardedFor: `${CHECKOUT_IP}:40000`, ...extra };
}

describe('HBONE tunnel', () => {
  test('valid SVIDs: the request reaches the HTTP listener with target.authenticated, sessions are pooled', async () => {
    const store = clientStore(svids['checkout']!);
    const client = new TunnelClient(store);
    try {
      const s1 = await client.open(openArgs(svids['checkout']!));
      const r1 = await httpOver(s1, '/api/v1/payments/P1');
      assert.match(r1, /^HTTP\/1\.1 200/);
      assert.match(r1, /payment ok \/api\/v1\/payments\/P1/);
      const t = targets.at(-1)!;
      assert.deepEqual(t.authenticated, { type: 'SPIRE', spiffeId: CHECKOUT_ID });
      assert.equal(t.source.endpoint, 'checkout/checkout-service-0');
      assert.equal(t.destination.endpoint, 'payments/payment-service-0');
      const s2 = await client.open(openArgs(svids['checkout']!));
      assert.match(await httpOver(s2, '/api/v1/payments/P2'), /payment ok/);
      assert.equal(client.sessions().length, 1, 'one pooled session per identity pair');
      assert.equal(client.handshakes, 1);
      s1.destroy();
      s2.destroy();
    } finally {
      client.close();
      store.close();
    }
  });

  test('no session resumption: every new session is a full handshake verified again', async () => {
    const store = clientStore(svids['checkout']!);
    const before = server.stats.sessions;
    for (let i = 0; i < 2; i++) {
      const client = new TunnelClient(store);
      const s = await client.open(openArgs(svids['checkout']!));
      s.destroy();
      client.close();
    }
    assert.equal(server.stats.sessions - before, 2, 'each session verified by the server');
    store.close();
  });

  test('handshake refusals name the SVID rejection code', async (t) => {
    const cases: [string, Svid, string][] = [
      ['client leaf that is a CA (OpenSSL accepts it)', svids['checkoutCa']!, 'LEAF_IS_CA'],
      ['other.org leaf chained to the cluster.local CA (both roots loaded)', svids['checkoutOther']!, 'WRONG_TRUST_DOMAIN'],
    ];
    for (const [name, src, code] of cases) {
      await t.test(name, async () => {
        const store = clientStore(src);
        const client = new TunnelClient(store);
        const n = events.length;
        await assert.rejects(client.open(openArgs(src)), TunnelError);
        const ev = events.slice(n).find((e) => e.kind === 'handshake' && !e.ok);
        assert.ok(ev && ev.kind === 'handshake' && !ev.ok && ev.code === code, JSON.stringify(events.slice(n)));
        client.close();
        store.close();
      });
    }
    await t.test('unknown destination identity (SNI) is refused', async () => {
      const store = clientStore(svids['checkout']!);
      const client = new TunnelClient(store);
      await assert.rejects(client.open(openArgs(svids['checkout']!, { destinationId: idOf('payments', 'admin') })));
      client.close();
      store.close();
    });
    await t.test('a client without a certificate is refused', async () => {
      const sock = tls.connect({ host: SERVER_IP, port: server.address.port, servername: sniFor(PAY_ID), ALPNProtocols: ['h2'], ca: root.certPem + int.certPem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
      let err: (Error & { code?: string }) | undefined;
      sock.on('error', (e) => (err = e));
      await new Promise((r) => sock.once('close', r));
      assert.equal(err?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
      assert.ok(!sock.authorized || sock.destroyed);
    });
  });

  test('streams: the claimed source must match the client SVID (401); the authority must be the served local endpoint (400)', async () => {
    const store = clientStore(svids['checkout']!);
    const client = new TunnelClient(store);
    try {
      await assert.rejects(client.open(openArgs(svids['checkout']!, { forwardedFor: `${ROGUE_IP}:1234` })), /401/);
      await assert.rejects(client.open(openArgs(svids['checkout']!, { authority: `${CHECKOUT_IP}:8080` })), /400/);
      await assert.rejects(client.open(openArgs(svids['checkout']!, { forwardedFor: '10.9.9.9:1' })), /401/);
    } finally {
      client.close();
      store.close();
    }
  });

  test('rotation keeps an open stream; the new SVID gets a new session', async () => {
    const store = clientStore(svids['checkout']!);
    const client = new TunnelClient(store);
    try {
      const s = await client.open(openArgs(svids['checkout']!));
      assert.match(await httpOver(s, '/api/v1/payments/R1'), /payment ok/);
      store.replace('test', [svids['checkout2']!]);
      assert.match(await httpOver(s, '/api/v1/payments/R2'), /payment ok \/api\/v1\/payments\/R2/, 'old stream still up');
      const s2 = await client.open(openArgs(store.get(CHECKOUT_ID)!));
      assert.match(await httpOver(s2, '/api/v1/payments/R3'), /payment ok/);
      assert.equal(client.sessions().length, 2);
      s.destroy();
      s2.destroy();
    } finally {
      client.close();
      store.close();
    }
  });

  test('a session ends at the earlier certificate expiry', async () => {
    const rsaLeaf = forgeIssue('short', rsaRoot, { uris: [CHECKOUT_ID], keyUsage: { digitalSignature: true, critical: true }, eku: true, seconds: 4 });
    const short = makeSvid(CHECKOUT_ID, rsaLeaf.certDer, rsaLeaf.keyDer);
    const store = clientStore(short);
    const client = new TunnelClient(store, (e) => events.push(e));
    try {
      const s = await client.open(openArgs(short));
      assert.match(await httpOver(s, '/api/v1/payments/E1'), /payment ok/);
      const n = events.length;
      await once(s, 'close');
      assert.ok(Date.now() >= short.notAfter.getTime(), 'not before notAfter');
      assert.ok(events.slice(n).some((e) => e.kind === 'session-closed' && e.reason === 'expiry'));
    } finally {
      client.close();
      store.close();
    }
  });
});

describe('streams without an HTTP listener', () => {
  test('piped over TCP only when the L3/L4 judgement allows (else 401)', async () => {
    const echo = net.createServer((c) => c.on('data', (d) => c.write(d)).on('error', () => undefined));
    await new Promise<void>((r) => echo.listen(7000, PAY_IP, r));
    const store = clientStore(svids['checkout']!);
    const client = new TunnelClient(store);
    try {
      await assert.rejects(client.open(openArgs(svids['checkout']!, { authority: `${PAY_IP}:7001` })), /401.*denied by policy/);
      const s = await client.open(openArgs(svids['checkout']!, { authority: `${PAY_IP}:7000` }));
      s.write('ping');
      const [d] = (await once(s, 'data')) as [Buffer];
      assert.equal(d.toString(), 'ping');
      s.destroy();
    } finally {
      client.close();
      store.close();
      echo.close();
    }
  });
});

describe('outbound tunnel listener', () => {
  test('a pod with an SVID is tunnelled (FORWARDED, auth_type SPIRE); without one it is reset (DROPPED, AUTH_REQUIRED)', async () => {
    const flows: Flow[] = [];
    const store = clientStore(svids['checkout']!);
    const client = new TunnelClient(store);
    const world = loadWorld(join(dir, 'world.yaml'));
    const out = new TunnelOutbound({
      listen: { host: '127.0.160.1', port: 0 },
      redirects: new ExplicitRedirectSource({ destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: PAY_IP, port: 8080 }, destinationIp: PAY_IP }, (ip) => world.byIp.get(ip)?.id ?? null),
      store,
      client,
      trustDomain: TD,
      endpoint: (id) => {
        const e = world.byId.get(id);
        return e ? { namespace: e.namespace, serviceAccount: e.serviceAccount } : null;
      },
      peerFor: () => server.address,
      flows: new CallbackSink((f) => flows.push(f)),
      describe: (endpoint) => (endpoint ? { namespace: endpoint.split('/')[0], pod_name: endpoint.split('/')[1] } : {}),
      nodeName: 'node-a',
      log: pino({ level: 'silent' }),
    });
    await out.start();
    try {
      const ask = (from: string): Promise<string> =>
        new Promise((resolve) => {
          let buf = '';
          const s = net.connect({ host: '127.0.160.1', port: out.address.port, localAddress: from });
          s.on('data', (d) => {
            buf += d.toString();
            if (/payment ok/.test(buf)) s.end();
          });
          s.on('error', (e: NodeJS.ErrnoException) => (buf += `ERROR ${e.code}`));
          s.on('close', () => resolve(buf));
          s.write('GET /api/v1/payments/O1 HTTP/1.1\r\nHost: payment\r\nConnection: close\r\n\r\n');
        });
      assert.match(await ask(CHECKOUT_IP), /^HTTP\/1\.1 200[\s\S]*payment ok \/api\/v1\/payments\/O1/);
      const fwd = flows.find((f) => f.verdict === 'FORWARDED');
      assert.equal(fwd?.auth_type, 'SPIRE');
      assert.equal(fwd?.source?.pod_name, 'checkout-service-0');
      assert.match(await ask(ROGUE_IP), /ERROR ECONNRESET|^$/);
      const drop = flows.find((f) => f.verdict === 'DROPPED');
      assert.equal(drop?.drop_reason_desc, 'AUTH_REQUIRED');
      assert.equal(drop?.auth_type, undefined);
      assert.match(drop?.Summary ?? '', /rogue-service-0 has no valid SVID/);
      assert.deepEqual(out.stats, { connections: 2, tunnelled: 1, refused: 1 });
    } finally {
      await out.stop();
      client.close();
      store.close();
    }
  });
  test('a destination on this node is refused (DROPPED, AUTH_REQUIRED): no tunnel authenticates same-node traffic', async () => {
    const flows: Flow[] = [];
    const store = clientStore(svids['checkout']!);
    const client = new TunnelClient(store);
    const world = loadWorld(join(dir, 'world.yaml'));
    let peerAsked = 0;
    const out = new TunnelOutbound({
      listen: { host: '127.0.210.1', port: 0 },
      redirects: new ExplicitRedirectSource({ destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: PAY_IP, port: 8080 }, destinationIp: PAY_IP }, (ip) => world.byIp.get(ip)?.id ?? null),
      store,
      client,
      trustDomain: TD,
      endpoint: (id) => {
        const e = world.byId.get(id);
        return e ? { namespace: e.namespace, serviceAccount: e.serviceAccount } : null;
      },
      isLocal: (id) => id === 'payments/payment-service-0',
      peerFor: () => (peerAsked++, server.address),
      flows: new CallbackSink((f) => flows.push(f)),
      describe: (endpoint) => (endpoint ? { namespace: endpoint.split('/')[0], pod_name: endpoint.split('/')[1] } : {}),
      nodeName: 'node-a',
      log: pino({ level: 'silent' }),
    });
    await out.start();
    try {
      const got = await new Promise<string>((resolve) => {
        let buf = '';
        const s = net.connect({ host: '127.0.210.1', port: out.address.port, localAddress: CHECKOUT_IP });
        s.on('data', (d) => (buf += d.toString()));
        s.on('error', (e: NodeJS.ErrnoException) => (buf += `ERROR ${e.code}`));
        s.on('close', () => resolve(buf));
        s.write('GET /api/v1/payments/S1 HTTP/1.1\r\nHost: payment\r\nConnection: close\r\n\r\n');
      });
      assert.doesNotMatch(got, /payment ok/);
      assert.equal(peerAsked, 0, 'no tunnel is opened');
      const drop = flows.find((f) => f.verdict === 'DROPPED');
      assert.equal(drop?.drop_reason_desc, 'AUTH_REQUIRED');
      assert.match(drop?.Summary ?? '', /payment-service-0 is on this node: no tunnel authenticates same-node traffic/);
      assert.deepEqual(out.stats, { connections: 1, tunnelled: 0, refused: 1 });
    } finally {
      await out.stop();
      client.close();
      store.close();
    }
  });
});
