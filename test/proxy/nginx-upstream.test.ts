/**
 * nginx (Debian) as the real upstream: allowed requests arrive in their normalized form, denied
 * ones never arrive, keep-alive to nginx works through the pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { startNginx } from './helpers/nginx.js';
import { rawExchange, startSeedHarness, statusCodes } from './helpers/harness.js';

const H = 'Host: payment-service:8080\r\n';

test('through the proxy to nginx: normalized path forwarded, denials stay at the proxy', { timeout: 30_000 }, async (t) => {
  const nginx = await startNginx(t, '127.0.110.11');
  const h = await startSeedHarness(t, 110, { upstreamHost: nginx.host, upstreamPort: nginx.port });
  const c = new Client(h.url, { localAddress: h.checkout } as ConstructorParameters<typeof Client>[1]);
  t.after(() => c.close());
  const get = async (path: string, method = 'GET'): Promise<[number, string]> => {
    const r = await c.request({ path, method, headers: { host: 'payment-service:8080' } });
    return [r.statusCode, await r.body.text()];
  };
  assert.deepEqual(await get('/api/v1/payments/123'), [200, 'nginx saw GET /api/v1/payments/123 host=payment-service:8080\n']);
  assert.deepEqual(await get('/api/v1/payments/a/./b/../c?x=%2e%2e'), [200, 'nginx saw GET /api/v1/payments/a/c?x=%2e%2e host=payment-service:8080\n']);
  assert.deepEqual(await get('/api/v1/payments/123', 'DELETE'), [403, 'Access denied\r\n']);
  assert.deepEqual(await get('/api/v1/payments', 'POST'), [200, 'nginx saw POST /api/v1/payments host=payment-service:8080\n']);
  // Raw bytes that nginx itself would resolve differently: the proxy normalizes before judging.
  const raw = await rawExchange(h.host, h.port, h.checkout, `GET /api/v1/payments/%2e%2e/%2e%2e/admin HTTP/1.1\r\n${H}\r\n`);
  assert.deepEqual(statusCodes(raw.text), [403]);
  // Keep-alive to nginx: many requests, few upstream connections.
  for (let i = 0; i < 50; i++) assert.equal((await get(`/api/v1/payments/${i}`))[0], 200);
  assert.ok(h.proxy.listeners[0]!.stats.forwarded >= 53);
  assert.equal(h.upstream.requests.length, 0, 'nothing went to the recording upstream');
});
