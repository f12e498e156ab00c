/**
 * Configuration asking for what is not available is refused at start (docs/configuration.md,
 * Refused keys): one subtest per row of config/unsupported.ts, through the real CLI
 * (`tendril agent --check-config`, `tendril proxy --protocol`): exit 2 and the key named. And
 * `tendril status` reports measured state, not configured wishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { MISSING_PROTOCOLS, PROXY_PROTOCOLS, UNSUPPORTED } from '../../config/index.js';
import { spawnAgent, waitReady, TENDRIL_BIN } from '../helpers/agent.js';
import { freePort } from '../helpers/servers.js';

const run = promisify(execFile);

async function tendril(args: string[]): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, [TENDRIL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, out };
}

const redirect = (protocol: string): string =>
  `standalone.redirects=[{listen: "127.0.153.1:15080", destination: "payments/payment-service-0:8080", upstream: "127.0.153.10:8080", protocol: ${protocol}}]`;

/** Per table key: the `--set` values that ask for it and the key path the message must name. */
const CASES: Array<{ key: string; sets: string[]; names: string }> = [
  { key: 'hubble.relay.enabled', sets: ['hubble.relay.enabled=true'], names: 'hubble.relay.enabled' },
  { key: 'hubble.ui.enabled', sets: ['hubble.ui.enabled=true'], names: 'hubble.ui.enabled' },
  { key: 'kubeProxyReplacement', sets: ['kubeProxyReplacement=true', 'datapath.enabled=false'], names: 'kubeProxyReplacement' },
  { key: 'standalone.redirects[].protocol', sets: [redirect('grpc')], names: 'standalone.redirects[0].protocol' },
];

test('every row of the refusal table has a case here', () => {
  assert.deepEqual([...new Set(CASES.map((c) => c.key))].sort(), UNSUPPORTED.map((r) => r.key).sort());
});

test('tendril agent --check-config refuses what is not available', async (t) => {
  for (const c of CASES) {
    await t.test(`${c.sets.join(' ')}`, async () => {
      const r = await tendril(['agent', '--check-config', ...c.sets.flatMap((s) => ['--set', s])]);
      assert.equal(r.code, 2, r.out);
      assert.ok(r.out.includes(`${c.names}:`), `names ${c.names}: ${r.out}`);
      assert.match(r.out, /TND_CONFIG_UNSUPPORTED|not available/);
    });
  }
});

test('tendril proxy --protocol refuses the L7 protocols the proxy does not parse', async (t) => {
  for (const protocol of MISSING_PROTOCOLS) {
    await t.test(protocol, async () => {
      const r = await tendril([
        'proxy', '--policies', 'config/examples/seed', '--world', 'config/examples/world.yaml', '--listen', '127.0.153.1:0',
        '--destination', 'payments/payment-service-0:8080', '--upstream', '127.0.153.10:8080', '--protocol', protocol,
      ]);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, new RegExp(`--protocol ${protocol}: the proxy parses only ${PROXY_PROTOCOLS.join(', ')}`));
    });
  }
});

test('the available configuration passes the table (the default config is accepted)', async () => {
  const r = await tendril(['agent', '--check-config', '--set', 'datapath.enabled=false', '--set', 'hubble.store.enabled=false',
    '--set', 'health.listenAddress=127.0.153.1:0', '--set', 'hubble.listenAddress=127.0.153.1:0', '--set', 'hubble.metrics.listenAddress=127.0.153.1:0',
    '--set', 'standalone.redirects=[]']);
  assert.equal(r.code, 0, r.out);
});

test('tendril status reports measured state: no encryption, no kube-proxy replacement without a datapath', async (t) => {
  const [health, hubble, metrics] = await Promise.all([freePort(), freePort(), freePort()]);
  const agent = spawnAgent(t, [
    `health.listenAddress=127.0.0.1:${health}`, `hubble.listenAddress=127.0.0.1:${hubble}`, `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.store.enabled=false', 'standalone.redirects=[]', 'datapath.enabled=false',
  ]);
  await waitReady(agent, `127.0.0.1:${health}`);
  const table = (await run(process.execPath, [TENDRIL_BIN, 'status', '--server', `127.0.0.1:${health}`])).stdout;
  assert.match(table, /^Encryption:\s+Disabled$/m);
  assert.match(table, /^KubeProxyReplacement:\s+False$/m);
  const json = JSON.parse((await run(process.execPath, [TENDRIL_BIN, 'status', '--server', `127.0.0.1:${health}`, '-o', 'json'])).stdout) as Record<string, unknown>;
  assert.deepEqual(json.encryption, { enabled: false });
  assert.equal(json.kubeProxyReplacement, false);
  agent.child.kill('SIGTERM');
  await once(agent.child, 'exit');
});
