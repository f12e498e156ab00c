import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'undici';
import { freePort } from '../helpers/servers.js';
import { spawnAgent, waitReady, TENDRIL_BIN } from '../helpers/agent.js';

const BIN = TENDRIL_BIN;

test('agent starts standalone on the examples, reports ready and status, and stops cleanly on SIGTERM', async (t) => {
  const [health, hubble, metrics, redirect] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const agent = spawnAgent(t, [
    `health.listenAddress=127.0.0.1:${health}`,
    `hubble.listenAddress=127.0.0.1:${hubble}`,
    `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.store.enabled=false',
    `standalone.redirects=[{listen: "127.0.0.1:${redirect}", destination: "payments/payment-service-0:8080", upstream: "127.0.1.10:8080"}]`,
    'datapath.enabled=false',
  ]);
  const { child, logs } = agent;
  await waitReady(agent, `127.0.0.1:${health}`);

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
  const { child, logs } = spawnAgent(t, [`standalone.policies=[${dir}]`, `health.listenAddress=127.0.0.1:${health}`, 'datapath.enabled=false']);
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 2, logs());
  assert.match(logs(), /bad\.yaml/);
  assert.match(logs(), /port/);
});
