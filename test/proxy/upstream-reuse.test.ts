/**
 * Pooled upstream connections: reused after a complete keep-alive exchange, and the desync check —
 * an idle pooled connection that receives bytes nobody asked for is destroyed, so those bytes can
 * never be read as the next request's response.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawExchange, startSeedHarness, statusCodes } from './helpers/harness.js';

const H = 'Host: payment-service:8080\r\n';
const get = (n: string): string => `GET /api/v1/payments/${n} HTTP/1.1\r\n${H}\r\n`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('upstream connections are reused; an idle one that receives stray bytes is destroyed, never reused', async (t) => {
  const h = await startSeedHarness(t, 156, {
    handler: (req, res, seen) => {
      req.on('end', () => {
        const body = `upstream saw ${seen.method} ${seen.url}\n`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        // A desynchronized upstream: a second, unrequested response on the idle connection.
        if (seen.url.endsWith('/stray')) setTimeout(() => req.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nSMUGGLED'), 50);
      });
    },
  });
  const a = await rawExchange(h.host, h.port, h.checkout, get('a'));
  const b = await rawExchange(h.host, h.port, h.checkout, get('b'));
  assert.deepEqual([statusCodes(a.text), statusCodes(b.text)], [[200], [200]]);
  const [ra, rb] = h.upstream.requests;
  assert.equal(rb!.remotePort, ra!.remotePort, 'a complete keep-alive exchange leaves the connection reusable');

  const s = await rawExchange(h.host, h.port, h.checkout, get('stray'));
  assert.deepEqual(statusCodes(s.text), [200]);
  await sleep(200); // the stray bytes arrive while the connection idles in the pool
  const c = await rawExchange(h.host, h.port, h.checkout, get('c'));
  assert.deepEqual(statusCodes(c.text), [200]);
  assert.match(c.text, /upstream saw GET \/api\/v1\/payments\/c\n$/);
  assert.ok(!c.text.includes('SMUGGLED'), 'stray upstream bytes never reach a client');
  const rs = h.upstream.requests.find((r) => r.url.endsWith('/stray'))!;
  const rc = h.upstream.requests.find((r) => r.url.endsWith('/c'))!;
  assert.notEqual(rc.remotePort, rs.remotePort, 'the desynchronized connection was not reused');
});
