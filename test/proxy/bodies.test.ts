/**
 * Large bodies in both directions stream through the proxy with backpressure. The proxy runs as
 * its own process (`tendril proxy`) so its peak RSS (VmHWM) is measured alone: 256 MiB up and
 * 256 MiB down must grow it by far less than the body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { Client } from 'undici';
import { startCliProxy } from './helpers/cli-proxy.js';
import { startRecordingUpstream, startSeedHarness, writeSeedFiles, type UpstreamHandler } from './helpers/harness.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const SIZE = 256 * MIB;
/** A 1 GiB upload must use bounded memory. */
const GIB = 1024 * MIB;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

function bodyOf(size: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(CHUNK.length, size - sent);
      sent += n;
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
}

const bigDownload: UpstreamHandler = (req, res, seen) => {
  req.resume();
  if (seen.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
    bodyOf(SIZE).pipe(res);
    return;
  }
  req.on('end', () => res.end(`upstream saw ${seen.method} ${seen.url} (${seen.bodyBytes} bytes)\n`));
};

test('1 GiB chunked up, 256 MiB content-length up, 256 MiB down with bounded proxy memory (tendril proxy + curl)', { timeout: 90_000 }, async (t) => {
  const subnet = 80;
  const files = writeSeedFiles(subnet);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const up = await startRecordingUpstream(`127.0.${subnet}.10`, bigDownload);
  t.after(() => up.close());
  const p = await startCliProxy(t, ['--policies', files.policies, '--world', files.world, '--listen', `127.0.${subnet}.1:0`, '--destination', 'payments/payment-service-0:8080', '--upstream', `${up.host}:${up.port}`]);
  const base = p.peakRss();
  const src = `127.0.${subnet}.20`;
  // chunked upload: curl reads stdin of unknown length
  const chunked = await run('sh', ['-c', `head -c ${GIB} /dev/zero | curl -sS --max-time 50 --interface ${src} -T - -X POST ${p.url}/api/v1/payments`]);
  assert.equal(chunked.stdout, `upstream saw POST /api/v1/payments (${GIB} bytes)\n`);
  // content-length upload
  const cl = await run('sh', ['-c', `head -c ${SIZE} /dev/zero | curl -sS --max-time 40 --interface ${src} -H 'content-length: ${SIZE}' -H 'transfer-encoding:' -T - -X POST ${p.url}/api/v1/payments`]);
  assert.equal(cl.stdout, `upstream saw POST /api/v1/payments (${SIZE} bytes)\n`);
  const down = await run('curl', ['-sS', '--max-time', '40', '--interface', src, '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${p.url}/api/v1/payments/big`]);
  assert.equal(down.stdout, `200 ${SIZE}`);
  const growth = p.peakRss() - base;
  assert.ok(growth < 128 * MIB, `proxy peak RSS grew by ${(growth / MIB).toFixed(1)} MiB moving 1.5 GiB`);
  assert.deepEqual(up.requests.filter((r) => r.method === 'POST').map((r) => r.bodyBytes), [GIB, SIZE]);
  t.diagnostic(`proxy peak RSS growth ${(growth / MIB).toFixed(1)} MiB`);
});

test('a slow reader applies backpressure all the way to the upstream (the proxy does not buffer)', { timeout: 30_000 }, async (t) => {
  let written = 0;
  const h = await startSeedHarness(t, 82, {
    handler: (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = (): void => {
        while (written < SIZE) {
          written += CHUNK.length;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    },
  });
  const c = new Client(h.url, { localAddress: h.checkout } as ConstructorParameters<typeof Client>[1]);
  t.after(() => c.destroy());
  const r = await c.request({ path: '/api/v1/payments/slow', method: 'GET' });
  assert.equal(r.statusCode, 200);
  // Read nothing for a while: the upstream must stall after a few socket buffers' worth.
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.ok(written < 32 * MIB, `upstream wrote ${(written / MIB).toFixed(1)} MiB while the client read nothing`);
  r.body.destroy();
});

test('a slow upstream applies backpressure to the uploading client', { timeout: 30_000 }, async (t) => {
  const h = await startSeedHarness(t, 83, {
    handler: (req) => {
      req.pause(); // never reads the body
    },
  });
  const c = new Client(h.url, { localAddress: h.checkout } as ConstructorParameters<typeof Client>[1]);
  t.after(() => c.destroy());
  let produced = 0;
  const body = new Readable({
    read() {
      if (produced >= SIZE) return void this.push(null);
      produced += CHUNK.length;
      this.push(CHUNK);
    },
  });
  void c.request({ path: '/api/v1/payments', method: 'POST', body }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.ok(produced > 0 && produced < 48 * MIB, `client produced ${(produced / MIB).toFixed(1)} MiB into a stalled upstream`);
});
