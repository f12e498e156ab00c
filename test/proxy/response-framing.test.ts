/**
 * Response framing is regenerated for the client: an upstream body without Content-Length is
 * re-chunked for HTTP/1.1 clients and sent read-to-close (no Transfer-Encoding) to HTTP/1.0
 * clients; a Content-Length body keeps its length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawExchange, startSeedHarness, statusCodes } from './helpers/harness.js';

const H = 'Host: payment-service:8080\r\n';

test('upstream chunked body: re-chunked for HTTP/1.1, read-to-close for HTTP/1.0; Content-Length kept', async (t) => {
  const h = await startSeedHarness(t, 157, {
    handler: (req, res, seen) => {
      req.on('end', () => {
        if (seen.url.endsWith('/fixed')) {
          res.writeHead(200, { 'content-length': '5' });
          res.end('fixed');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' }); // no length: node sends chunked
        res.write('part one, ');
        setTimeout(() => res.end('part two'), 20);
      });
    },
  });
  const v11 = await rawExchange(h.host, h.port, h.checkout, `GET /api/v1/payments/x HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.deepEqual(statusCodes(v11.text), [200]);
  assert.match(v11.text, /\r\ntransfer-encoding: chunked\r\n/i);
  const body11 = v11.text.slice(v11.text.indexOf('\r\n\r\n') + 4);
  const dechunked = body11.replace(/(?:^|\r\n)[0-9a-f]+\r\n/gi, '').replace(/\r\n$/, '');
  assert.equal(dechunked, 'part one, part two');
  assert.ok(body11.endsWith('0\r\n\r\n'), 'last chunk sent');

  const v10 = await rawExchange(h.host, h.port, h.checkout, `GET /api/v1/payments/x HTTP/1.0\r\n${H}\r\n`);
  assert.deepEqual(statusCodes(v10.text), [200]);
  assert.doesNotMatch(v10.text, /transfer-encoding/i);
  assert.match(v10.text, /\r\nconnection: close\r\n/i);
  assert.equal(v10.text.slice(v10.text.indexOf('\r\n\r\n') + 4), 'part one, part two');
  assert.ok(v10.closed, 'the body ends with the connection');

  const fixed = await rawExchange(h.host, h.port, h.checkout, `GET /api/v1/payments/fixed HTTP/1.1\r\n${H}\r\n`, { untilResponses: 1, timeoutMs: 2000 });
  assert.match(fixed.text, /\r\ncontent-length: 5\r\n/i);
  assert.doesNotMatch(fixed.text, /transfer-encoding/i);
});
