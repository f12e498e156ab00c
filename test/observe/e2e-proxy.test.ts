/**
 * End to end: real HTTP requests (undici, from distinct 127.0.x.y source addresses standing for
 * pods) through the real L7 proxy judged by the seed policy, flows into createObservability's one
 * sink, then read back over the Observer gRPC API with `tendril observe`, from /metrics, and from
 * the SQLite store with --aggregate pairs.
 */
process.env.TZ = 'UTC';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';

/** undici binds the client socket with the (untyped) `localAddress` option. */
const bound = (ip: string): Agent => new Agent({ localAddress: ip } as ConstructorParameters<typeof Agent>[0]);
import pino from 'pino';
import { createObservability } from '../../observe/consumers/index.js';
import { createEngine, loadPolicies, loadWorld } from '../../policy/index.js';
import { describeFromWorld, ExplicitRedirectSource, startProxy } from '../../proxy/index.js';
import { runCli } from '../../agent/cli/main.js';
import { startRecordingUpstream, writeSeedFiles } from '../proxy/helpers/harness.js';

const SUBNET = 177;
const log = pino({ level: 'silent' });

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  process.exitCode = undefined;
  const code = await runCli(args, { stdout, stderr });
  return { code, out, err };
}

test('flows from real proxied requests reach the API, the CLI, the metrics and the store', async (t) => {
  const files = writeSeedFiles(SUBNET);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const storeDir = mkdtempSync(join(tmpdir(), 'tendril-e2e-store-'));
  t.after(() => rmSync(storeDir, { recursive: true, force: true }));
  const storePath = join(storeDir, 'flows.db');

  const obs = createObservability({
    config: {
      enabled: true,
      listenAddress: '127.0.0.1:0',
      eventBufferCapacity: 4096,
      metrics: { enabled: ['dns:query;ignoreAAAA', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http'], listenAddress: '127.0.0.1:0' },
      store: { enabled: true, path: storePath, retention: 30 * 86_400_000 },
    },
    log,
    nodeName: 'e2e-node',
    version: 'e2e',
  });
  await obs.start();
  let obsStopped = false;
  t.after(async () => {
    if (!obsStopped) await obs.stop();
  });

  const world = loadWorld(files.world);
  const engine = createEngine({ policies: loadPolicies([files.policies]), world });
  const upstream = await startRecordingUpstream(`127.0.${SUBNET}.10`);
  t.after(() => upstream.close());
  const proxy = await startProxy({
    engine,
    log,
    flows: obs.sink,
    describe: describeFromWorld(world),
    redirects: [
      {
        listen: { host: `127.0.${SUBNET}.1`, port: 0 },
        protocol: 'http',
        source: new ExplicitRedirectSource(
          { destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: upstream.host, port: upstream.port } },
          (ip) => engine.endpointByIp(ip),
        ),
      },
    ],
  });
  t.after(() => proxy.close());
  const a = proxy.listeners[0]!.address;
  const base = `http://${a.host}:${a.port}`;
  const checkout = bound(`127.0.${SUBNET}.20`);
  const rogue = bound(`127.0.${SUBNET}.66`);
  t.after(() => checkout.close());
  t.after(() => rogue.close());

  const get = await request(`${base}/api/v1/payments/P123`, { dispatcher: checkout });
  assert.equal(get.statusCode, 200);
  await get.body.text();
  const del = await request(`${base}/api/v1/payments`, { method: 'DELETE', dispatcher: checkout });
  assert.equal(del.statusCode, 403);
  await del.body.text();
  const rogueGet = await request(`${base}/api/v1/payments/P9`, { dispatcher: rogue });
  assert.equal(rogueGet.statusCode, 403);
  await rogueGet.body.text();

  // Over the Observer API with the CLI: compact lines in Hubble's format.
  const r = await cli(['observe', '--server', (obs.status() as { observer: string }).observer, '--to-namespace', 'payments', '--type', 'l7']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').map((l) => l.replace(/^\w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3}: /, '').replace(/:\d{4,5} \(/, ':PORT (').replace(/ \d+ms \(/, ' Nms ('));
  // (The 403 answer to rogue counts too: its destination, the client, is in namespace payments.)
  assert.deepEqual(lines, [
    `checkout/checkout-service-0:PORT (unknown) -> payments/payment-service-0:8080 (unknown) http-request FORWARDED (HTTP/1.1 GET ${base}/api/v1/payments/P123)`,
    `checkout/checkout-service-0:PORT (unknown) -> payments/payment-service-0:8080 (unknown) http-request DROPPED (HTTP/1.1 DELETE ${base}/api/v1/payments)`,
    `payments/rogue-0:PORT (unknown) -> payments/payment-service-0:8080 (unknown) http-request DROPPED (HTTP/1.1 GET ${base}/api/v1/payments/P9)`,
    `payments/rogue-0:PORT (unknown) <- payments/payment-service-0:8080 (unknown) http-response DROPPED (HTTP/1.1 403 Nms (GET ${base}/api/v1/payments/P9))`,
  ]);

  // JSON: denial names the deciding policy; the response carries code and latency.
  const j = await cli(['observe', '--server', (obs.status() as { observer: string }).observer, '-n', 'payments', '-o', 'json', '--all']);
  const flows = j.out.trim().split('\n').map((l) => JSON.parse(l).flow);
  const denied = flows.find((f) => f.l7?.http?.method === 'DELETE' && f.l7.type === 'REQUEST');
  assert.equal(denied.verdict, 'DROPPED');
  assert.equal(denied.drop_reason_desc, 'POLICY_DENIED');
  assert.ok((denied.ingress_denied_by ?? denied.egress_denied_by)?.length > 0, 'the denial names a policy decision');
  const resp = flows.find((f) => f.l7?.type === 'RESPONSE' && f.l7.http.code === 200);
  assert.ok(resp.l7.latency_ns > 0);
  assert.equal(resp.is_reply, true);
  assert.equal(resp.node_name, 'e2e-node');

  // Metrics scraped over HTTP.
  const m = await (await request(`http://${(obs.status() as { metrics: string }).metrics}/metrics`)).body.text();
  assert.match(m, /^hubble_http_requests_total\{method="GET",protocol="HTTP\/1\.1",reporter="server"\} 2$/m);
  assert.match(m, /^hubble_drop_total\{protocol="HTTP",reason="POLICY_DENIED"\} \d+$/m);

  // The store, after stop() flushed it: who talked to payments.
  await proxy.close();
  await obs.stop();
  obsStopped = true;
  const p = await cli(['observe', '--store', storePath, '--namespace', 'payments', '--since', '1h', '--aggregate', 'pairs', '-o', 'json']);
  assert.equal(p.code, 0, p.err);
  const pairs = p.out.trim().split('\n').map((l) => JSON.parse(l));
  const bySource = Object.fromEntries(pairs.map((x) => [x.source, x]));
  assert.deepEqual(bySource['checkout/checkout-service-0'].verdicts, { FORWARDED: 1, DROPPED: 1 });
  assert.deepEqual(bySource['payments/rogue-0'].verdicts, { DROPPED: 1 });
  assert.equal(bySource['payments/rogue-0'].destination, 'payments/payment-service-0');
});
