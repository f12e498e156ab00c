/**
 * The RedirectSource seam used by transparent mode: a source other than the explicit table, a
 * destination that is not an endpoint (egress to an outside address, judged by IP), and a source
 * that cannot attribute a connection (closed, nothing forwarded). Also: several listeners at once,
 * and all-or-nothing binding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type net from 'node:net';
import pino from 'pino';
import { CallbackSink, type Flow } from '../../observe/index.js';
import { createEngine, loadPolicies, loadWorld } from '../../policy/index.js';
import { ExplicitRedirectSource, normalizeIp, startProxy, type RedirectSource, type RedirectTarget } from '../../proxy/index.js';
import { freePort } from '../helpers/servers.js';
import { rawExchange, startRecordingUpstream, statusCodes, writeSeedFiles } from './helpers/harness.js';

const H = 'Host: payment-service:8080\r\n';

function engineFor(subnet: number, t: { after(fn: () => void): void }) {
  const files = writeSeedFiles(subnet);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  return createEngine({ policies: loadPolicies([files.policies]), world: loadWorld(files.world) });
}

class TableSource implements RedirectSource {
  calls = 0;
  constructor(private readonly make: (ip: string, port: number) => RedirectTarget | null) {}
  resolve(socket: net.Socket): RedirectTarget | null {
    this.calls++;
    return this.make(normalizeIp(socket.remoteAddress)!, socket.remotePort!);
  }
}

test('a source other than the explicit table: requests are judged per the seed policy', async (t) => {
  const engine = engineFor(130, t);
  const up = await startRecordingUpstream('127.0.130.10');
  t.after(() => up.close());
  const source = new TableSource((ip, port) => ({
    source: { ip, port, endpoint: engine.endpointByIp(ip) },
    destination: { ip: '127.0.130.10', port: 8080, endpoint: 'payments/payment-service-0' },
    upstream: { host: up.host, port: up.port },
  }));
  const proxy = await startProxy({ engine, log: pino({ level: 'silent' }), flows: new CallbackSink(() => undefined), redirects: [{ listen: { host: '127.0.130.1', port: 0 }, protocol: 'http', source }] });
  t.after(() => proxy.close());
  const a = proxy.listeners[0]!.address;
  const res = await rawExchange(a.host, a.port, '127.0.130.20', `GET /api/v1/payments/1 HTTP/1.1\r\n${H}\r\nDELETE /api/v1/payments/1 HTTP/1.1\r\n${H}\r\n`);
  assert.deepEqual(statusCodes(res.text), [200, 403]);
  assert.equal(source.calls, 1, 'resolved once per connection');
  assert.deepEqual(up.requests.map((r) => r.method), ['GET']);
});

test('destination that is no endpoint: judged by IP, flows say EGRESS and world', async (t) => {
  const engine = engineFor(131, t);
  const up = await startRecordingUpstream('127.0.131.99');
  t.after(() => up.close());
  const flows: Flow[] = [];
  const source = new TableSource((ip, port) => ({
    source: { ip, port, endpoint: engine.endpointByIp(ip) },
    destination: { ip: '127.0.131.99', port: 80, endpoint: null },
    upstream: { host: up.host, port: up.port },
  }));
  const proxy = await startProxy({ engine, log: pino({ level: 'silent' }), flows: new CallbackSink((f) => flows.push(f)), redirects: [{ listen: { host: '127.0.131.1', port: 0 }, protocol: 'http', source }] });
  t.after(() => proxy.close());
  const a = proxy.listeners[0]!.address;
  // checkout has no egress policy and the outside address no ingress: nothing restricts it.
  const res = await rawExchange(a.host, a.port, '127.0.131.20', `DELETE /anything HTTP/1.1\r\nHost: example.com\r\n\r\n`);
  assert.deepEqual(statusCodes(res.text), [200]);
  assert.equal(flows[0]!.traffic_direction, 'EGRESS');
  assert.deepEqual(flows[0]!.destination!.labels, ['reserved:world']);
});

test('a connection the source cannot attribute is closed without forwarding anything', async (t) => {
  const engine = engineFor(132, t);
  const up = await startRecordingUpstream('127.0.132.10');
  t.after(() => up.close());
  const proxy = await startProxy({ engine, log: pino({ level: 'silent' }), flows: new CallbackSink(() => undefined), redirects: [{ listen: { host: '127.0.132.1', port: 0 }, protocol: 'http', source: new TableSource(() => null) }] });
  t.after(() => proxy.close());
  const a = proxy.listeners[0]!.address;
  const res = await rawExchange(a.host, a.port, '127.0.132.20', `GET /api/v1/payments/1 HTTP/1.1\r\n${H}\r\n`);
  assert.equal(res.text, '');
  assert.ok(res.closed);
  assert.equal(up.requests.length, 0);
});

test('one listener per redirect; a bind failure closes the listeners already started', async (t) => {
  const engine = engineFor(133, t);
  const up = await startRecordingUpstream('127.0.133.10');
  t.after(() => up.close());
  const src = new ExplicitRedirectSource({ destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: up.host, port: up.port } }, (ip) => engine.endpointByIp(ip));
  const two = await startProxy({
    engine,
    log: pino({ level: 'silent' }),
    flows: new CallbackSink(() => undefined),
    redirects: [
      { listen: { host: '127.0.133.1', port: 0 }, protocol: 'http', source: src },
      { listen: { host: '127.0.133.2', port: 0 }, protocol: 'http', source: src },
    ],
  });
  t.after(() => two.close());
  assert.equal(two.listeners.length, 2);
  for (const l of two.listeners) {
    const r = await rawExchange(l.address.host, l.address.port, '127.0.133.20', `GET /api/v1/payments/1 HTTP/1.1\r\n${H}\r\n`);
    assert.deepEqual(statusCodes(r.text), [200]);
  }
  const taken = two.listeners[0]!.address;
  const first = await freePort('127.0.133.3');
  await assert.rejects(
    startProxy({
      engine,
      log: pino({ level: 'silent' }),
      flows: new CallbackSink(() => undefined),
      redirects: [
        { listen: { host: '127.0.133.3', port: first }, protocol: 'http', source: src },
        { listen: taken, protocol: 'http', source: src },
      ],
    }),
    (err: Error & { code?: string }) => err.code === 'TND_PROXY_LISTEN',
  );
  const refused = await rawExchange('127.0.133.3', first, '127.0.133.20', 'GET / HTTP/1.1\r\n\r\n', { timeoutMs: 1000 });
  assert.equal(refused.text, '', 'the first listener of the failed start was closed again');
  assert.ok(refused.closed);
});
