/**
 * The seed's headline example, for real: real policy YAML, real policy engine, real clients
 * (curl, undici, node:http, wrk) against a real upstream through the proxy.
 * checkout may GET /api/v1/payments/.* and POST /api/v1/payments; DELETE is 403.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { Client } from 'undici';
import { startSeedHarness } from './helpers/harness.js';

const run = promisify(execFile);

async function curl(args: string[]): Promise<{ code: number; body: string; headers: string }> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '5', '-D', '-', ...args]);
  const split = stdout.lastIndexOf('\r\n\r\n');
  const head = stdout.slice(0, split);
  const codes = [...head.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  return { code: codes.at(-1) ?? 0, body: stdout.slice(split + 4), headers: head };
}

test('curl as checkout: GET and POST allowed, DELETE answered 403 "Access denied" before the app', async (t) => {
  const h = await startSeedHarness(t, 70);
  const get = await curl(['--interface', h.checkout, `${h.url}/api/v1/payments/123`]);
  assert.equal(get.code, 200);
  assert.equal(get.body, 'upstream saw GET /api/v1/payments/123 (0 bytes)\n');
  const post = await curl(['--interface', h.checkout, '-X', 'POST', '--data-binary', '{"amount":5}', `${h.url}/api/v1/payments`]);
  assert.equal(post.code, 200);
  assert.equal(post.body, 'upstream saw POST /api/v1/payments (12 bytes)\n');
  const del = await curl(['--interface', h.checkout, '-X', 'DELETE', `${h.url}/api/v1/payments/123`]);
  assert.equal(del.code, 403);
  assert.equal(del.body, 'Access denied\r\n');
  const admin = await curl(['--interface', h.checkout, `${h.url}/admin/users`]);
  assert.equal(admin.code, 403);
  assert.deepEqual(
    h.upstream.requests.map((r) => `${r.method} ${r.url}`),
    ['GET /api/v1/payments/123', 'POST /api/v1/payments'],
  );
});

test('sources without a rule are denied: another pod and a non-endpoint (world)', async (t) => {
  const h = await startSeedHarness(t, 71);
  for (const src of [h.rogue, h.outsider]) {
    const r = await curl(['--interface', src, `${h.url}/api/v1/payments/1`]);
    assert.equal(r.code, 403, src);
    assert.equal(r.body, 'Access denied\r\n');
  }
  assert.equal(h.upstream.requests.length, 0);
  const drops = h.flows.filter((f) => f.l7?.type === 'REQUEST');
  assert.equal(drops.length, 2);
  assert.equal(drops[0]!.source?.pod_name, 'rogue-0');
  assert.deepEqual(drops[1]!.source?.labels, ['reserved:world']);
  for (const f of drops) assert.equal(f.verdict, 'DROPPED');
});

test('flows: request + response per allowed request, DROPPED with the deciding policy per denial', async (t) => {
  const h = await startSeedHarness(t, 72);
  await curl(['--interface', h.checkout, `${h.url}/api/v1/payments/9?x=1`]);
  await curl(['--interface', h.checkout, '-X', 'DELETE', `${h.url}/api/v1/payments/9`]);
  const [req, resp, dreq, dresp] = h.flows;
  assert.equal(h.flows.length, 4);
  assert.equal(req!.verdict, 'FORWARDED');
  assert.equal(req!.Type, 'L7');
  assert.deepEqual(req!.l7!.http, { code: 0, method: 'GET', url: `http://${h.host}:${h.port}/api/v1/payments/9?x=1`, protocol: 'HTTP/1.1' });
  assert.equal(req!.source!.namespace, 'checkout');
  assert.equal(req!.source!.pod_name, 'checkout-service-0');
  assert.ok(req!.source!.labels!.includes('k8s:app=checkout-service'));
  assert.equal(req!.destination!.pod_name, 'payment-service-0');
  assert.equal(req!.l4!.TCP!.destination_port, 8080);
  assert.equal(req!.IP!.source, h.checkout);
  assert.equal(req!.traffic_direction, 'INGRESS');
  assert.equal(req!.ingress_allowed_by![0]!.name, 'payment-service-l7');
  assert.equal(resp!.l7!.type, 'RESPONSE');
  assert.equal(resp!.l7!.http!.code, 200);
  assert.ok(resp!.l7!.latency_ns! > 0);
  assert.equal(resp!.is_reply, true);
  assert.equal(resp!.source!.pod_name, 'payment-service-0');
  assert.equal(dreq!.verdict, 'DROPPED');
  assert.equal(dreq!.drop_reason_desc, 'POLICY_DENIED');
  assert.deepEqual(dreq!.ingress_denied_by![0]!.namespace, 'payments');
  assert.deepEqual(dreq!.ingress_denied_by![0]!.name, 'payment-service-l7');
  assert.equal(dresp!.l7!.http!.code, 403);
  assert.equal(dresp!.verdict, 'DROPPED');
});

test('keep-alive (undici): a denied request in the middle keeps the connection and the order', async (t) => {
  const h = await startSeedHarness(t, 73);
  const client = new Client(h.url, { localAddress: h.checkout, pipelining: 1 } as ConstructorParameters<typeof Client>[1]);
  t.after(() => client.close());
  const codes: number[] = [];
  for (const [method, path] of [
    ['GET', '/api/v1/payments/1'],
    ['DELETE', '/api/v1/payments/1'],
    ['POST', '/api/v1/payments'],
    ['GET', '/api/v1/payments/2'],
  ] as const) {
    const r = await client.request({ method, path, body: method === 'POST' ? 'x'.repeat(100) : null });
    codes.push(r.statusCode);
    await r.body.text();
  }
  assert.deepEqual(codes, [200, 403, 200, 200]);
  assert.equal(h.proxy.listeners[0]!.stats.connections, 1, 'one client connection for all four requests');
});

test('pipelining (undici, depth 4): each request judged on its own, answered in order', async (t) => {
  const h = await startSeedHarness(t, 74);
  const client = new Client(h.url, { localAddress: h.checkout, pipelining: 4 } as ConstructorParameters<typeof Client>[1]);
  t.after(() => client.close());
  const paths = ['/api/v1/payments/a', '/admin', '/api/v1/payments/b', '/api/v1/payments/../admin', '/api/v1/payments/c'];
  const results = await Promise.all(
    paths.map(async (path) => {
      const r = await client.request({ method: 'GET', path });
      return [r.statusCode, await r.body.text()] as const;
    }),
  );
  assert.deepEqual(results.map((r) => r[0]), [200, 403, 200, 403, 200]);
  assert.equal(results[2]![1], 'upstream saw GET /api/v1/payments/b (0 bytes)\n');
  assert.deepEqual(h.upstream.requests.map((r) => r.url), ['/api/v1/payments/a', '/api/v1/payments/b', '/api/v1/payments/c']);
});

test('Expect: 100-continue on an allowed POST gets 100 then the upstream answer (node:http client)', async (t) => {
  const h = await startSeedHarness(t, 75);
  const result = await new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
    let continued = false;
    const req = http.request({ host: h.host, port: h.port, localAddress: h.checkout, method: 'POST', path: '/api/v1/payments', headers: { expect: '100-continue', 'content-length': 5, host: 'payment-service:8080' } });
    req.on('continue', () => {
      continued = true;
      req.end('hello');
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ continued, status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  assert.deepEqual(result, { continued: true, status: 200, body: 'upstream saw POST /api/v1/payments (5 bytes)\n' });
  assert.ok(!h.upstream.raw().toLowerCase().includes('expect'), 'Expect is answered by the proxy, not forwarded');
});

test('wrk short burst (64 connections, 1 s): every allowed request answered 200, no socket errors', async (t) => {
  // wrk cannot bind a source address; it connects from 127.0.0.1, which this world gives to checkout.
  const h = await startSeedHarness(t, 76, { extraCheckoutIps: ['127.0.0.1'] });
  const { stdout } = await run('wrk', ['-t1', '-c64', '-d1s', `${h.url}/api/v1/payments/1`], { timeout: 15_000 });
  const total = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? '0');
  assert.ok(total > 100, stdout);
  assert.ok(!/Non-2xx or 3xx responses/.test(stdout), stdout);
  assert.ok(!/Socket errors/.test(stdout), stdout);
  assert.ok(h.upstream.requests.length >= total, 'every counted response came from the upstream');
  const denied = await run('wrk', ['-t1', '-c8', '-d1s', `${h.url}/admin`], { timeout: 15_000 });
  const dTotal = Number(/(\d+) requests in/.exec(denied.stdout)?.[1] ?? '0');
  assert.equal(Number(/Non-2xx or 3xx responses: (\d+)/.exec(denied.stdout)?.[1] ?? '-1'), dTotal, denied.stdout);
  assert.ok(!h.upstream.requests.some((r) => r.url === '/admin'));
});

test('curl --http2 (h2c upgrade attempt): answered over HTTP/1.1, no protocol switch, Upgrade never forwarded', async (t) => {
  const h = await startSeedHarness(t, 77);
  const r = await curl(['--http2', '--interface', h.checkout, `${h.url}/api/v1/payments/7`]);
  assert.equal(r.code, 200);
  assert.match(r.headers, /^HTTP\/1\.1 200/m);
  assert.equal(r.body, 'upstream saw GET /api/v1/payments/7 (0 bytes)\n');
  const seen = h.upstream.raw().toLowerCase();
  assert.ok(!seen.includes('upgrade') && !seen.includes('h2c') && !seen.includes('http2-settings'), seen);
  const denied = await curl(['--http2', '--interface', h.checkout, '-X', 'DELETE', `${h.url}/api/v1/payments/7`]);
  assert.equal(denied.code, 403);
});
