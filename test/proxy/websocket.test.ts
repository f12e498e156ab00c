/**
 * WebSocket through the proxy: the opening handshake is judged like any GET (seed policy: checkout
 * may GET /api/v1/payments/.*), tunnelled only after the upstream's 101; denied handshakes get 403
 * and never reach the upstream. Client: undici's WebSocket; upstream: node:http 'upgrade' with a
 * minimal RFC 6455 echo (text frames).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { Agent, WebSocket } from 'undici';
import { rawExchange, startSeedHarness, statusCodes } from './helpers/harness.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Decodes masked client text frames (< 126 bytes) and echoes them back unmasked. */
function echoFrames(socket: net.Socket): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 6) {
      const opcode = buf[0]! & 0x0f;
      const len = buf[1]! & 0x7f;
      if (len >= 126 || buf.length < 6 + len) return;
      const mask = buf.subarray(2, 6);
      const payload = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]!));
      buf = buf.subarray(6 + len);
      if (opcode === 0x8) return void socket.end(Buffer.from([0x88, 0]));
      socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
    }
  });
}


async function startWsUpstream(host: string): Promise<{ port: number; upgrades: string[]; close(): Promise<void> }> {
  const upgrades: string[] = [];
  const server = http.createServer((_req, res) => res.end('plain\n'));
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    upgrades.push(`${req.method} ${req.url}`);
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    echoFrames(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function openWs(url: string, localAddress: string): Promise<{ ws: WebSocket; agent: Agent }> {
  const agent = new Agent({ localAddress } as ConstructorParameters<typeof Agent>[0]);
  const ws = new WebSocket(url, { dispatcher: agent } as unknown as string[]);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve({ ws, agent });
    ws.onerror = (e) => reject(new Error(`websocket error: ${(e as { message?: string }).message ?? 'failed'}`));
  });
}

test('allowed WebSocket handshake is tunnelled after the upstream 101; messages flow both ways', { timeout: 20_000 }, async (t) => {
  const ws = await startWsUpstream('127.0.140.11');
  t.after(() => ws.close());
  const h = await startSeedHarness(t, 140, { upstreamHost: '127.0.140.11', upstreamPort: ws.port });
  const { ws: client, agent } = await openWs(`ws://${h.host}:${h.port}/api/v1/payments/stream`, h.checkout);
  t.after(() => agent.close());
  const echoed = await new Promise<string>((resolve) => {
    client.onmessage = (m) => resolve(String(m.data));
    client.send('hello');
  });
  assert.equal(echoed, 'hello');
  client.close();
  assert.deepEqual(ws.upgrades, ['GET /api/v1/payments/stream']);
  const resp = h.flows.find((f) => f.l7?.type === 'RESPONSE')!;
  assert.equal(resp.l7!.http!.code, 101);
  assert.equal(resp.verdict, 'FORWARDED');
});

test('denied WebSocket handshakes get 403 and never reach the upstream', { timeout: 20_000 }, async (t) => {
  const ws = await startWsUpstream('127.0.141.11');
  t.after(() => ws.close());
  const h = await startSeedHarness(t, 141, { upstreamHost: '127.0.141.11', upstreamPort: ws.port });
  const hs = (path: string): string =>
    `GET ${path} HTTP/1.1\r\nHost: payment-service:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
  const byRogue = await rawExchange(h.host, h.port, h.rogue, hs('/api/v1/payments/stream'));
  assert.deepEqual(statusCodes(byRogue.text), [403]);
  assert.match(byRogue.text, /Access denied\r\n$/);
  const badPath = await rawExchange(h.host, h.port, h.checkout, hs('/admin/stream'));
  assert.deepEqual(statusCodes(badPath.text), [403]);
  const escaped = await rawExchange(h.host, h.port, h.checkout, hs('/api/v1/payments/../../admin'));
  assert.deepEqual(statusCodes(escaped.text), [403]);
  // Early bytes after a refused/denied handshake are never forwarded.
  const withBody = await rawExchange(h.host, h.port, h.checkout, hs('/api/v1/payments/x').replace('\r\n\r\n', '\r\nContent-Length: 3\r\n\r\nabc'));
  assert.deepEqual(statusCodes(withBody.text), [400]);
  assert.deepEqual(ws.upgrades, []);
});

test('an upgrade the upstream refuses is relayed and the connection closed; early client bytes dropped', { timeout: 20_000 }, async (t) => {
  const seen: string[] = [];
  const plain = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(426, { 'content-length': '4' });
    res.end('nope');
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.142.12', () => resolve()));
  t.after(() => new Promise<void>((resolve) => (plain.closeAllConnections(), plain.close(() => resolve()))));
  const h = await startSeedHarness(t, 142, { upstreamHost: '127.0.142.12', upstreamPort: (plain.address() as net.AddressInfo).port });
  const res = await rawExchange(
    h.host,
    h.port,
    h.checkout,
    `GET /api/v1/payments/ws HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nDELETE /api/v1/payments/1 HTTP/1.1\r\nHost: p\r\n\r\n`,
    { keepOpen: true, timeoutMs: 3000 },
  );
  assert.deepEqual(statusCodes(res.text), [426]);
  assert.ok(res.text.endsWith('nope'));
  assert.ok(res.closed, 'connection closed after the refused upgrade');
  assert.deepEqual(seen, ['GET /api/v1/payments/ws'], 'the bytes after the handshake never reached the upstream');
});
