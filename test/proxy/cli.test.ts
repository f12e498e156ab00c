/**
 * `tendril proxy` exactly as docs/reference/proxy-contract.md says: flags, the `listening` line on
 * stderr, JSON-lines flows with Hubble field names, exit 0 on SIGTERM/SIGINT, exit 2 on invalid
 * policies/world/flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnTendril, startCliProxy } from './helpers/cli-proxy.js';
import { startRecordingUpstream, writeSeedFiles } from './helpers/harness.js';

const run = promisify(execFile);

async function curlCode(args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', ...args]);
  return stdout;
}

test('tendril proxy: listening line, seed policy enforced, flows file, SIGTERM exits 0', { timeout: 40_000 }, async (t) => {
  const files = writeSeedFiles(100);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const up = await startRecordingUpstream('127.0.100.10');
  t.after(() => up.close());
  const flowsFile = join(files.dir, 'flows.jsonl');
  const p = await startCliProxy(t, [
    '--policies', files.policies,
    '--world', files.world,
    '--listen', '127.0.100.1:0',
    '--destination', 'payments/payment-service-0:8080',
    '--upstream', `${up.host}:${up.port}`,
    '--protocol', 'http',
    '--flows', flowsFile,
  ]);
  assert.match(p.stderr(), /listening.*127\.0\.100\.1:\d+/);
  assert.equal(await curlCode(['--interface', '127.0.100.20', `${p.url}/api/v1/payments/123`]), '200');
  assert.equal(await curlCode(['--interface', '127.0.100.20', '-X', 'DELETE', `${p.url}/api/v1/payments/123`]), '403');
  assert.equal(await curlCode(['--interface', '127.0.100.20', '-X', 'POST', '-d', 'x', `${p.url}/api/v1/payments`]), '200');
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
  assert.deepEqual(up.requests.map((r) => `${r.method} ${r.url}`), ['GET /api/v1/payments/123', 'POST /api/v1/payments']);
  const flows = readFileSync(flowsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(flows.length, 6, 'request + response for each of 3 requests');
  for (const f of flows) {
    for (const key of ['time', 'verdict', 'source', 'destination', 'l4', 'l7']) assert.ok(key in f, `flow has ${key}`);
    assert.match(f.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.ok(['REQUEST', 'RESPONSE'].includes(f.l7.type));
    assert.equal(typeof f.l7.http.method, 'string');
    assert.equal(typeof f.l7.http.url, 'string');
    assert.equal(typeof f.l7.http.code, 'number');
    assert.equal(f.l7.http.protocol, 'HTTP/1.1');
  }
  const denied = flows.find((f) => f.l7.type === 'REQUEST' && f.verdict === 'DROPPED')!;
  assert.equal(denied.l7.http.method, 'DELETE');
  assert.equal(denied.drop_reason_desc, 'POLICY_DENIED');
  assert.deepEqual(denied.ingress_denied_by[0], { name: 'payment-service-l7', namespace: 'payments' });
  assert.equal(denied.source.namespace, 'checkout');
  assert.equal(denied.source.pod_name, 'checkout-service-0');
  assert.ok(denied.source.labels.includes('k8s:app=checkout-service'));
  assert.equal(denied.destination.pod_name, 'payment-service-0');
  const ok = flows.find((f) => f.l7.type === 'RESPONSE' && f.l7.http.code === 200)!;
  assert.equal(ok.verdict, 'FORWARDED');
  assert.ok(ok.l7.latency_ns > 0);
  assert.equal(flows.find((f) => f.l7.type === 'RESPONSE' && f.l7.http.code === 403)!.verdict, 'DROPPED');
});

test('tendril proxy --flows - writes JSON lines on stdout; SIGINT exits 0', { timeout: 40_000 }, async (t) => {
  const files = writeSeedFiles(101);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const up = await startRecordingUpstream('127.0.101.10');
  t.after(() => up.close());
  const p = await startCliProxy(t, ['--policies', files.policies, '--world', files.world, '--listen', '127.0.101.1:0', '--destination', 'payments/payment-service-0:8080', '--upstream', `${up.host}:${up.port}`, '--flows', '-']);
  assert.equal(await curlCode(['--interface', '127.0.101.66', `${p.url}/api/v1/payments/1`]), '403');
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 0);
  const lines = p.stdout().trim().split('\n');
  assert.equal(lines.length, 2);
  const req = JSON.parse(lines[0]!) as Record<string, any>;
  assert.equal(req.verdict, 'DROPPED');
  assert.equal(req.source.pod_name, 'rogue-0');
});

test('tendril proxy exits 2 on invalid policies, world, destination or protocol', { timeout: 60_000 }, async (t) => {
  const files = writeSeedFiles(102);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-proxy-bad-'));
  t.after(() => {
    rmSync(files.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const badPolicy = join(dir, 'bad.yaml');
  writeFileSync(
    badPolicy,
    'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: payments}\nspec:\n  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - ports: [{port: "80800", protocol: TCP}]\n',
  );
  const badWorld = join(dir, 'world.yaml');
  writeFileSync(badWorld, 'endpoints:\n  - {name: x, namespace: a, ips: [not-an-ip]}\n');
  const common = ['--listen', '127.0.102.1:0', '--upstream', '127.0.102.10:1'];
  const cases: Array<{ args: string[]; stderr: RegExp }> = [
    { args: ['--policies', badPolicy, '--world', files.world, '--destination', 'payments/payment-service-0:8080', ...common], stderr: /bad\.yaml.*document 1.*port/ },
    { args: ['--policies', files.policies, '--world', badWorld, '--destination', 'payments/payment-service-0:8080', ...common], stderr: /world\.yaml/ },
    { args: ['--policies', files.policies, '--world', files.world, '--destination', 'payments/nope-0:8080', ...common], stderr: /payments\/nope-0 is not in/ },
    { args: ['--policies', files.policies, '--world', files.world, '--destination', 'bad', ...common], stderr: /--destination: must be <namespace>\/<pod>:<port>/ },
    { args: ['--policies', files.policies, '--world', files.world, '--destination', 'payments/payment-service-0:8080', ...common, '--protocol', 'grpc'], stderr: /--protocol grpc: the proxy parses only http, kafka, dns/ },
    { args: ['--policies', files.policies, '--world', files.world, '--destination', 'payments/payment-service-0:8080', ...common, '--protocol', 'smtp'], stderr: /--protocol must be http, grpc, kafka or dns/ },
    { args: ['--policies', files.policies, '--world', files.world, '--destination', 'payments/payment-service-0:8080', '--listen', '127.0.102.1:0'], stderr: /upstream/ },
  ];
  for (const c of cases) {
    const p = spawnTendril(['proxy', ...c.args]);
    const code = await p.exited;
    assert.equal(code, 2, `${c.args.join(' ')}: ${p.stderr()}`);
    assert.match(p.stderr(), c.stderr);
    assert.ok(!p.stderr().includes('listening'));
  }
});

test('tendril proxy exits non-zero with TND_PROXY_LISTEN when the address is taken', { timeout: 40_000 }, async (t) => {
  const files = writeSeedFiles(103);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const up = await startRecordingUpstream('127.0.103.10');
  t.after(() => up.close());
  const p = spawnTendril(['proxy', '--policies', files.policies, '--world', files.world, '--listen', `${up.host}:${up.port}`, '--destination', 'payments/payment-service-0:8080', '--upstream', `${up.host}:${up.port}`]);
  assert.equal(await p.exited, 1);
  assert.match(p.stderr(), /TND_PROXY_LISTEN/);
});
