/**
 * `acceptStream`: a connection handed over already attributed (a Duplex that is no net.Socket,
 * as the mTLS tunnel delivers) is served and judged exactly like an accepted socket whose
 * RedirectSource returned that target.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import type { RedirectTarget } from '../../proxy/index.js';
import { startSeedHarness, statusCodes } from './helpers/harness.js';

/** Two in-memory Duplex ends: what one writes, the other reads. */
function duplexPair(): [Duplex, Duplex] {
  const make = (): Duplex & { peer?: Duplex } => {
    const d: Duplex & { peer?: Duplex } = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        d.peer!.push(chunk);
        cb();
      },
      final(cb) {
        d.peer!.push(null);
        cb();
      },
      allowHalfOpen: true,
    });
    return d;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

function exchange(serve: (s: Duplex) => void, bytes: string, done: (text: string) => boolean): Promise<string> {
  const [client, server] = duplexPair();
  serve(server);
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(text), 3000);
    client.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (done(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    client.write(bytes);
  });
}

const H = 'Host: payment-service:8080\r\n';

test('acceptStream: an attributed Duplex is served and judged per request like an accepted socket', async (t) => {
  const h = await startSeedHarness(t, 155);
  const listener = h.proxy.listeners[0]!;
  const target = (ip: string, endpoint: string | null): RedirectTarget => ({
    source: { ip, port: 40000, endpoint },
    destination: { ip: h.upstream.host, port: 8080, endpoint: 'payments/payment-service-0' },
    upstream: { host: h.upstream.host, port: h.upstream.port },
  });
  const before = listener.stats.connections;
  const checkout = target('10.0.0.20', 'checkout/checkout-service-0');
  const a = await exchange(
    (s) => listener.acceptStream(s, checkout),
    `GET /api/v1/payments/1 HTTP/1.1\r\n${H}\r\nDELETE /api/v1/payments/1 HTTP/1.1\r\n${H}\r\nGET /api/v1/payments/2 HTTP/1.1\r\n${H}\r\n`,
    (text) => /payments\/2 \(0 bytes\)\n$/.test(text),
  );
  assert.deepEqual(statusCodes(a), [200, 403, 200]);
  assert.match(a, /upstream saw GET \/api\/v1\/payments\/2/);
  const rogue = await exchange((s) => listener.acceptStream(s, target('10.0.0.66', 'payments/rogue-0')), `GET /api/v1/payments/1 HTTP/1.1\r\n${H}\r\n`, (text) => text.endsWith('Access denied\r\n'));
  assert.deepEqual(statusCodes(rogue), [403]);
  assert.equal(listener.stats.connections, before + 2);
  assert.deepEqual(h.upstream.requests.map((r) => r.url), ['/api/v1/payments/1', '/api/v1/payments/2']);
  const denial = h.flows.find((f) => f.verdict === 'DROPPED' && f.l7?.type === 'REQUEST' && f.source?.pod_name === 'rogue-0');
  assert.ok(denial, 'the rogue request produced a DROPPED flow attributed to the handed-over source');
  assert.equal(denial.IP?.source, '10.0.0.66');
});
