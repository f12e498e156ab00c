import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'undici';
import { freePort } from '../helpers/servers.js';

const BIN = new URL('../../bin/tendril.js', import.meta.url).pathname;

async function startAgent(t: { after(fn: () => unknown): void }, sets: string[]): Promise<{ child: ChildProcess; logs: () => string }> {
  const child = spawn(process.execPath, [BIN, 'agent', ...sets.flatMap((s) => ['--set', s])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, logs: () => out };
}

async function waitReady(url: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) assert.fail(`agent exited early with ${child.exitCode}:\n${logs()}`);
    try {
      const res = await request(url);
      if (res.statusCode === 200) return void (await res.body.dump());
      await res.body.dump();
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`agent not ready in 20 s:\n${logs()}`);
}

test('agent starts standalone on the examples, reports ready and status, and stops cleanly on SIGTERM', async (t) => {
  const [health, hubble, metrics, redirect] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const { child, logs } = await startAgent(t, [
    `health.listenAddress=127.0.0.1:${health}`,
    `hubble.listenAddress=127.0.0.1:${hubble}`,
    `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.store.enabled=false',
    `standalone.redirects=[{listen: "127.0.0.1:${redirect}", destination: "payments/payment-service-0:8080", upstream: "127.0.1.10:8080"}]`,
    'datapath.enabled=false',
  ]);
  await waitReady(`http://127.0.0.1:${health}/readyz`, child, logs);

  const healthz = await request(`http://127.0.0.1:${health}/healthz`);
  assert.equal(healthz.statusCode, 200);
  assert.deepEqual(await healthz.body.json(), { status: 'ok' });

  const status = (await (await request(`http://127.0.0.1:${health}/status`)).body.json()) as Record<string, any>;
  assert.equal(status.mode, 'standalone');
  assert.equal(status.ready, true);
  assert.ok(status.policy.policies > 0, 'policies were loaded');
  assert.ok(status.policy.endpoints >= 7, 'the example world was loaded');

  const cli = spawn(process.execPath, [BIN, 'status', '--server', `127.0.0.1:${health}`, '-o', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let cliOut = '';
  cli.stdout!.on('data', (d: Buffer) => (cliOut += d));
  const [cliCode] = await once(cli, 'exit');
  assert.equal(cliCode, 0);
  assert.equal(JSON.parse(cliOut).nodeName, 'standalone-node');

  assert.match(logs(), /policies and world loaded/);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0, logs());
  assert.match(logs(), /agent stopped/);
});

test('agent with an invalid policy directory exits 2 naming the file and field', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'tendril-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'bad.yaml'),
    'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - ports:\n      - port: "80800"\n',
  );
  const health = await freePort();
  const { child, logs } = await startAgent(t, [`standalone.policies=[${dir}]`, `health.listenAddress=127.0.0.1:${health}`, 'datapath.enabled=false']);
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 2, logs());
  assert.match(logs(), /bad\.yaml/);
  assert.match(logs(), /port/);
});
