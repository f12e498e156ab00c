/**
 * Transparent redirect to the real L7 proxy (standalone model: pods are 127.0.61.x addresses on
 * the host, told apart by their cgroup). The policy engine says client -> web:8081 needs HTTP
 * rules, so connect4 sends the client's socket to the proxy listener; the proxy learns the
 * original destination and the client's identity from the BPF tuple map
 * (TransparentRedirectSource), allows GET /public/* and answers 403 to the rest, per request.
 * Port 8080 (L4 allow) goes straight to the backend. curl is the client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { startDatapath } from '../helpers/datapath.js';
import { startHttpServer } from '../helpers/servers.js';
import { shopEngine, SHOP_PORTS } from '../helpers/shop-policy.js';
import { resolvePolicy } from '../../datapath/index.js';
import { startProxy, ACCESS_DENIED_BODY } from '../../proxy/index.js';
import { CallbackSink, type Flow } from '../../observe/index.js';

const CLIENT = '127.0.61.20';
const WEB = '127.0.61.10';

test('policy-matched connections land on the proxy with the right original destination', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const client = net.addPod('client', 1);
  const engine = shopEngine(CLIENT, WEB);
  const dp = startDatapath(net, { endpointByIp: (ip) => engine.endpointByIp(ip) });

  const web8081 = await startHttpServer((req, res) => res.end(`web8081 saw ${req.socket.remoteAddress} ${req.method} ${req.url}`), WEB, 8081);
  t.after(() => web8081.close());
  const web8080 = await startHttpServer((req, res) => res.end(`web8080 saw ${req.socket.remoteAddress} ${req.url}`), WEB, 8080);
  t.after(() => web8080.close());

  const flows: Flow[] = [];
  const proxy = await startProxy({
    engine,
    redirects: [{ listen: { host: '127.0.0.1', port: 0 }, protocol: 'http', source: dp.redirectSource() }],
    log: pino({ level: 'silent' }),
    flows: new CallbackSink((f) => flows.push(f)),
  });
  t.after(() => proxy.close());
  const proxyPort = proxy.listeners[0]!.address.port;

  const eps = [
    { name: 'shop/client', ip: CLIENT, identity: 1001, epId: 1 },
    { name: 'shop/web', ip: WEB, identity: 1002, epId: 2 },
  ];
  const resolved = resolvePolicy(engine, eps, SHOP_PORTS, { proxyFor: () => ({ ip: '127.0.0.1', port: proxyPort }) });
  assert.deepEqual(
    resolved.redirects.map((r) => `${r.srcIdentity}->${r.dstIdentity}:${r.port}`),
    ['1001->1002:8081'],
    'exactly client -> web:8081 needs L7',
  );
  for (const e of eps) dp.policy.setIdentity(e.ip, e.identity);
  dp.policy.setCgroupIdentity(client.cgroup, 1001);
  dp.policy.setRedirects(resolved.redirects);

  const curl = async (url: string): Promise<{ code: string; body: string }> => {
    const r = await net.exec('client', 'curl', ['-sS', '--max-time', '5', '--interface', CLIENT, '-w', '\n%{http_code}', url], 15_000, { netns: false });
    assert.equal(r.code, 0, `curl ${url}: ${r.stderr}`);
    const i = r.stdout.lastIndexOf('\n');
    return { body: r.stdout.slice(0, i), code: r.stdout.slice(i + 1) };
  };

  const allowed = await curl(`http://${WEB}:8081/public/a?x=1`);
  assert.equal(allowed.code, '200');
  assert.match(allowed.body, /^web8081 saw 127\.0\.0\.1 GET \/public\/a\?x=1$/, 'forwarded by the proxy (the backend sees the proxy, not the client)');

  const denied = await curl(`http://${WEB}:8081/admin`);
  assert.equal(denied.code, '403');
  assert.equal(denied.body, ACCESS_DENIED_BODY);

  const l4 = await curl(`http://${WEB}:8080/direct`);
  assert.equal(l4.code, '200');
  assert.equal(l4.body, `web8080 saw ${CLIENT} /direct`, 'L4-only traffic is not redirected');

  const l7 = flows.filter((f) => f.l7?.http && f.l7.type === 'REQUEST');
  assert.ok(l7.length >= 2, `request flows: ${JSON.stringify(flows.map((f) => f.Summary))}`);
  const byPath = (p: string): Flow | undefined => l7.find((f) => f.l7!.http!.url.includes(p));
  const ok = byPath('/public/a');
  const no = byPath('/admin');
  assert.ok(ok && no, 'one request flow per request');
  assert.equal(ok.verdict, 'FORWARDED');
  assert.equal(no.verdict, 'DROPPED');
  for (const f of [ok, no]) {
    assert.equal(f.IP?.source, CLIENT, 'source identity recovered from the tuple map');
    assert.equal(f.IP?.destination, WEB, 'original destination recovered from the tuple map');
    assert.equal(f.source?.pod_name, 'client');
    assert.equal(f.destination?.pod_name, 'web');
    assert.equal(f.l4?.TCP?.destination_port, 8081);
  }
  assert.ok(dp.stats().REDIRECT >= 2n);
  // The tuple map forgets closed connections (sockops state callback).
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && countOrig(dp) > 0) await new Promise((r) => setTimeout(r, 50));
  assert.equal(countOrig(dp), 0, 'tendril_origdst is empty after the connections closed');
});

function countOrig(dp: ReturnType<typeof startDatapath>): number {
  return dp.debugMapSize('tendril_origdst');
}
