/**
 * Packet boundaries do not matter: attack rows and a pipelined sequence sent one byte at a time
 * (each byte its own TCP segment, Nagle off) get the same answers as when sent at once, and the
 * upstream still never sees the forbidden request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startSeedHarness, statusCodes } from './helpers/harness.js';

const H = 'Host: payment-service:8080\r\n';
const M = 'SPLITMARK';
const SMUGGLED = `DELETE /api/v1/payments/${M} HTTP/1.1\r\n${H}\r\n`;

/** Writes `bytes` one byte per write (with a macrotask between), then half-closes; collects the answer. */
function trickle(host: string, port: number, localAddress: string, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress, noDelay: true });
    let text = '';
    let i = 0;
    const step = (): void => {
      if (s.destroyed) return;
      if (i >= bytes.length) return void s.end();
      s.write(Buffer.from(bytes[i++]!, 'latin1'));
      setImmediate(step);
    };
    s.on('connect', step);
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    const timer = setTimeout(() => s.destroy(), 10_000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

const rows: Array<{ name: string; bytes: string; expect: number[] }> = [
  { name: 'TE+CL', bytes: `POST /api/v1/payments HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`, expect: [400] },
  { name: 'duplicate Host', bytes: `GET /api/v1/payments/${M} HTTP/1.1\r\n${H}Host: other\r\n\r\n`, expect: [400] },
  { name: 'obs-fold', bytes: `GET /api/v1/payments/1 HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n${SMUGGLED}`, expect: [400] },
  { name: '%2e%2e escape', bytes: `GET /api/v1/payments/%2e%2e/%2e%2e/${M} HTTP/1.1\r\n${H}\r\n`, expect: [403] },
  { name: 'bad chunk after a good one', bytes: `POST /api/v1/payments HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\n\r\n${SMUGGLED}`, expect: [400] },
  {
    name: 'pipelined allow / deny / allow with bodies',
    bytes:
      `POST /api/v1/payments HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` +
      `POST /api/v1/payments/x HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` +
      `POST /api/v1/payments HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n`,
    expect: [200, 403, 200],
  },
  { name: 'TE CHUNKED frames the body', bytes: `POST /api/v1/payments HTTP/1.1\r\n${H}Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`, expect: [200, 403] },
];

test('byte-at-a-time delivery gives the same verdicts and never leaks the forbidden request', { timeout: 50_000 }, async (t) => {
  const h = await startSeedHarness(t, 79);
  for (const row of rows) {
    await t.test(row.name, async () => {
      const before = h.upstream.requests.length;
      const text = await trickle(h.host, h.port, h.checkout, row.bytes);
      assert.deepEqual(statusCodes(text), row.expect, `${row.name}: ${JSON.stringify(text.slice(0, 200))}`);
      const fresh = h.upstream.requests.slice(before);
      assert.equal(fresh.filter((r) => r.complete).length, row.expect.filter((c) => c === 200).length, row.name);
      assert.ok(!fresh.some((r) => r.url.includes(M) || r.method === 'DELETE'), row.name);
    });
  }
  assert.ok(!h.upstream.raw().includes(M), 'the marker never reached the upstream, in any position');
  const bodies = h.upstream.requests.filter((r) => r.complete).map((r) => r.bodyBytes);
  assert.deepEqual(bodies, [5, 2, 5], 'the allowed POSTs arrived with exactly their bodies');
});
