/**
 * Upstream failures map to 502/503/504 with flows saying why, and timeouts/limits protect the
 * proxy from slow or hostile clients (slowloris, header floods).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Client } from 'undici';
import { freePort } from '../helpers/servers.js';
import { rawExchange, startSeedHarness, statusCodes } from './helpers/harness.js';

const H = 'Host: payment-service:8080\r\n';
const GET = `GET /api/v1/payments/1 HTTP/1.1\r\n${H}\r\n`;

test('upstream down: 503 and a response flow with verdict ERROR naming the connect failure', async (t) => {
  const port = await freePort('127.0.90.10');
  const h = await startSeedHarness(t, 90, { upstreamPort: port });
  const res = await rawExchange(h.host, h.port, h.checkout, GET);
  assert.deepEqual(statusCodes(res.text), [503]);
  const resp = h.flows.find((f) => f.l7?.type === 'RESPONSE')!;
  assert.equal(resp.verdict, 'ERROR');
  assert.equal(resp.l7!.http!.code, 503);
  assert.match(resp.policy_log![0]!, /^upstream_connect_failed:ECONNREFUSED$/);
});

test('upstream never answers: 504 after upstreamResponseTimeout', async (t) => {
  const h = await startSeedHarness(t, 91, { limits: { upstreamResponseTimeoutMs: 300 }, handler: () => undefined });
  const t0 = Date.now();
  const res = await rawExchange(h.host, h.port, h.checkout, GET, { timeoutMs: 5000 });
  assert.deepEqual(statusCodes(res.text), [504]);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(h.flows.find((f) => f.l7?.type === 'RESPONSE')!.policy_log![0], 'upstream_response_timeout');
});

test('upstream resets before answering: 502; resets mid-body: the client connection is cut', async (t) => {
  const h = await startSeedHarness(t, 92, {
    handler: (req, res, seen) => {
      if (seen.url.endsWith('/reset')) return void req.socket.destroy();
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 50);
    },
  });
  const a = await rawExchange(h.host, h.port, h.checkout, `GET /api/v1/payments/reset HTTP/1.1\r\n${H}\r\n`);
  assert.deepEqual(statusCodes(a.text), [502]);
  const b = await rawExchange(h.host, h.port, h.checkout, GET, { keepOpen: true, timeoutMs: 3000 });
  assert.deepEqual(statusCodes(b.text), [200]);
  assert.ok(b.closed, 'client connection closed after a truncated upstream body');
  assert.ok(b.text.endsWith('partial'));
});

test('slowloris: a header section that never completes is answered 408 and closed after headersTimeout', async (t) => {
  const h = await startSeedHarness(t, 93, { limits: { headersTimeoutMs: 500 } });
  const t0 = Date.now();
  const result = await new Promise<{ text: string; ms: number }>((resolve) => {
    const s = net.connect({ host: h.host, port: h.port, localAddress: h.checkout });
    let text = '';
    let n = 0;
    const drip = setInterval(() => {
      if (n++ < 40) s.write(`X-Slow-${n}: a\r\n`);
    }, 100);
    s.on('connect', () => s.write(`GET /api/v1/payments/1 HTTP/1.1\r\n${H}`));
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on('close', () => {
      clearInterval(drip);
      clearTimeout(timer);
      resolve({ text, ms: Date.now() - t0 });
    });
  });
  assert.deepEqual(statusCodes(result.text), [408]);
  assert.ok(result.ms < 2500, `closed after ${result.ms} ms`);
  assert.equal(h.upstream.requests.length, 0);
});

test('many idle slow connections do not stop service for others (maxConnections and timeouts hold)', async (t) => {
  const h = await startSeedHarness(t, 94, { limits: { headersTimeoutMs: 800 } });
  const idle: net.Socket[] = [];
  let closed = 0;
  t.after(() => idle.forEach((s) => s.destroy()));
  for (let i = 0; i < 200; i++) {
    const s = net.connect({ host: h.host, port: h.port, localAddress: h.rogue });
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    s.resume();
    s.write('GET /api/v1/payments/1 HTTP/1.1\r\n');
    idle.push(s);
  }
  const c = new Client(h.url, { localAddress: h.checkout } as ConstructorParameters<typeof Client>[1]);
  t.after(() => c.close());
  const r = await c.request({ path: '/api/v1/payments/1', method: 'GET' });
  assert.equal(r.statusCode, 200);
  await r.body.text();
  // and the idle ones are reaped by the headers timeout
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.equal(closed, idle.length, 'idle half-requests were closed by the proxy');
});

test('header limits: too many header fields 431, too many header bytes 431', async (t) => {
  const h = await startSeedHarness(t, 95, { limits: { maxHeaderCount: 20, maxHeaderBytes: 4096 } });
  const many = Array.from({ length: 25 }, (_, i) => `X-${i}: v\r\n`).join('');
  const a = await rawExchange(h.host, h.port, h.checkout, `GET /api/v1/payments/1 HTTP/1.1\r\n${H}${many}\r\n`);
  assert.deepEqual(statusCodes(a.text), [431]);
  const b = await rawExchange(h.host, h.port, h.checkout, `GET /api/v1/payments/1 HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(5000)}\r\n\r\n`);
  assert.deepEqual(statusCodes(b.text), [431]);
  assert.equal(h.upstream.requests.length, 0);
});

test('the upstream connection of an aborted request is never reused', async (t) => {
  const h = await startSeedHarness(t, 96);
  // A POST whose chunked body breaks after the first chunk, once the upstream already has the
  // headers and 5 body bytes: the upstream request must be aborted, its connection destroyed.
  const result = await new Promise<string>((resolve) => {
    const s = net.connect({ host: h.host, port: h.port, localAddress: h.checkout });
    let text = '';
    s.on('connect', () => s.write(`POST /api/v1/payments HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`));
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    const bad = setTimeout(() => s.write('ZZ\r\n'), 300);
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('close', () => {
      clearTimeout(bad);
      clearTimeout(timer);
      resolve(text);
    });
  });
  assert.deepEqual(statusCodes(result), [400]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const first = h.upstream.requests[0]!;
  assert.ok(first, 'the upstream had received the request head');
  assert.equal(first.bodyBytes, 5);
  assert.equal(first.complete, false, 'upstream never got a complete request');
  assert.equal(first.aborted, true, 'upstream saw its connection cut');
  const b = await rawExchange(h.host, h.port, h.checkout, GET);
  assert.deepEqual(statusCodes(b.text), [200]);
  assert.notEqual(h.upstream.requests[1]!.remotePort, first.remotePort, 'the next request used a fresh upstream connection');
});
