// Live standalone sources: the agent watches its policy directory and world.yaml; a change is
// applied as a whole and the next request on an already established keep-alive connection is
// judged by the new set; an invalid change keeps the running set and shows in logs, status and
// /metrics. Real agent process, real keep-alive client bound to a pod address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { request } from 'undici';
import { freePort, startHttpServer } from '../helpers/servers.js';
import { spawnAgent, waitReady } from '../helpers/agent.js';

const SERVER = '127.0.180.10';
const CLIENT = '127.0.180.20';
const ROGUE = '127.0.180.66';

const world = (withRogue: boolean): string => `
endpoints:
  - {name: api-0, namespace: shop, labels: {app: api}, ips: [${SERVER}]}
  - {name: web-0, namespace: shop, labels: {app: web}, ips: [${CLIENT}]}
${withRogue ? `  - {name: rogue-0, namespace: shop, labels: {app: web}, ips: [${ROGUE}]}` : ''}
`;

const policy = (paths: string[]): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-l7, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http:
${paths.map((p) => `        - {method: GET, path: "${p}"}`).join('\n')}
`;

/** Atomic replace (as editors and `kubectl`-style tools do): write a temp file, rename over. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function status(health: string): Promise<Record<string, any>> {
  return (await (await request(`http://${health}/status`)).body.json()) as Record<string, any>;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, logs: () => string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a policy change is enforced on an established keep-alive connection; an invalid change keeps the running set', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-live-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const policies = join(dir, 'policies');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(policies);
  const policyFile = join(policies, 'api.yaml');
  const worldFile = join(dir, 'world.yaml');
  writeFileSync(policyFile, policy(['/a']));
  writeFileSync(worldFile, world(false));

  const upstream = await startHttpServer((req, res) => res.end(`upstream ${req.url}`), SERVER, 0);
  t.after(() => upstream.close());
  const [healthPort, proxyPort] = await Promise.all([freePort(), freePort()]);
  const health = `127.0.0.1:${healthPort}`;
  const agent = spawnAgent(t, [
    `health.listenAddress=${health}`,
    'hubble.enabled=false',
    'hubble.store.enabled=false',
    `hubble.listenAddress=127.0.0.1:${await freePort()}`,
    `hubble.metrics.listenAddress=127.0.0.1:${await freePort()}`,
    'datapath.enabled=false',
    `standalone.policies=[${policies}]`,
    `standalone.world=${worldFile}`,
    `standalone.redirects=[{listen: "127.0.0.1:${proxyPort}", destination: "shop/api-0:8080", upstream: "${SERVER}:${upstream.port}"}]`,
  ]);
  await waitReady(agent, health);

  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => keepAlive.destroy());
  const sockets = new Set<unknown>();
  const get = (path: string, localAddress = CLIENT, viaAgent: http.Agent = keepAlive): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxyPort, path, agent: viaAgent, localAddress, headers: { host: 'api' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('socket', (s) => {
        if (viaAgent === keepAlive) sockets.add(s);
      });
      req.on('error', reject);
    });

  await t.test('the initial set judges the connection', async () => {
    assert.equal(await get('/a'), 200);
    assert.equal(await get('/b'), 403);
  });

  await t.test('a changed policy file is enforced on the same connection', async () => {
    const before = (await status(health)).policy.changes.revision as number;
    replace(policyFile, policy(['/a', '/b']));
    await until('the new revision', async () => ((await status(health)).policy.changes.revision > before ? true : undefined), agent.logs);
    assert.equal(await get('/b'), 200, 'the next request on the established connection sees the new rule');
    assert.equal(await get('/a'), 200);
    replace(policyFile, policy(['/b']));
    await until('the narrowing revision', async () => ((await status(health)).policy.changes.revision > before + 1 ? true : undefined), agent.logs);
    assert.equal(await get('/a'), 403, 'a rule removed is removed for established connections too');
    assert.equal(sockets.size, 1, 'every request went over one keep-alive connection');
  });

  await t.test('an invalid change keeps the running set and is reported in logs, status and /metrics', async () => {
    const before = await status(health);
    replace(policyFile, policy(['/b']).replace('port: "8080"', 'port: "80800"'));
    const st = await until('the rejection', async () => {
      const s = await status(health);
      return s.policy.changes.lastError ? s : undefined;
    }, agent.logs);
    assert.equal(st.policy.changes.revision, before.policy.changes.revision, 'nothing was swapped');
    assert.match(st.policy.changes.lastError, /api\.yaml/);
    assert.match(st.policy.changes.lastError, /port/);
    assert.match(agent.logs(), /policy change rejected; the running policy set stays in force/);
    const metrics = await (await request(`http://${health}/metrics`)).body.text();
    assert.match(metrics, /tendril_policy_change_total\{outcome="failure"\} [1-9]/);
    assert.match(metrics, /tendril_policy_change_rejected 1/);
    assert.equal(await get('/b'), 200, 'the running set still allows /b');
    assert.equal(await get('/a'), 403, 'and still denies /a');
    // Fixing the file clears the error.
    replace(policyFile, policy(['/a']));
    await until('the fix', async () => ((await status(health)).policy.changes.lastError === null ? true : undefined), agent.logs);
    assert.equal(await get('/a'), 200);
    assert.equal(sockets.size, 1);
  });

  await t.test('a world change (a new endpoint) is picked up without a restart', async () => {
    const fresh = new http.Agent({ keepAlive: false });
    t.after(() => fresh.destroy());
    // Before: 127.0.180.66 is no endpoint, so it is `world`, which the policy does not allow.
    assert.equal(await get('/a', ROGUE, fresh), 403);
    replace(worldFile, world(true));
    await until('the world endpoint', async () => ((await status(health)).policy.endpoints === 3 ? true : undefined), agent.logs);
    assert.equal(await get('/a', ROGUE, fresh), 200, 'the new endpoint carries app=web');
  });

  await t.test('tendril endpoint list|get and status --verbose read the live state', async () => {
    const { spawnSync } = await import('node:child_process');
    const { TENDRIL_BIN } = await import('../helpers/agent.js');
    const cli = (...args: string[]) => spawnSync(process.execPath, [TENDRIL_BIN, ...args, '--server', health], { encoding: 'utf8' });
    const list = cli('endpoint', 'list', '-o', 'json');
    assert.equal(list.status, 0, list.stderr);
    const rows = JSON.parse(list.stdout).endpoints as { endpoint: string; ingress: string }[];
    assert.deepEqual(rows.map((r) => r.endpoint).sort(), ['shop/api-0', 'shop/rogue-0', 'shop/web-0']);
    assert.equal(rows.find((r) => r.endpoint === 'shop/api-0')?.ingress, 'default deny');
    const table = cli('endpoint', 'list');
    assert.match(table.stdout, /ENDPOINT\s+IDENTITY/);
    const get = cli('endpoint', 'get', 'shop/api-0');
    assert.equal(get.status, 0, get.stderr);
    assert.match(get.stdout, /shop\/api-l7/);
    assert.match(get.stdout, /http \(1 rule\)/);
    const missing = cli('endpoint', 'get', 'shop/nope');
    assert.equal(missing.status, 2);
    const verbose = cli('status', '--verbose');
    assert.equal(verbose.status, 0, verbose.stderr);
    assert.match(verbose.stdout, /Policy changes:\s+revision \d+, \d+ applied, 1 rejected/);
    assert.match(verbose.stdout, /Last policy change: 20/);
  });
});
