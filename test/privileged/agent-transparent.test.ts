/**
 * `tendril agent` as root with the datapath on: a process placed in the agent's cgroup dials the
 * payment-service pod address directly and is steered by connect4 to the agent's proxy listener
 * (transparent mode), which judges each request; a client outside the cgroup is not redirected;
 * a client that dials the listener itself still works (explicit mode). SIGTERM detaches
 * everything and removes the agent's cgroup and pins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { freePort, startHttpServer } from '../helpers/servers.js';
import { spawnAgent, waitReady, TENDRIL_BIN } from '../helpers/agent.js';
import { CGROUP_ROOT, newRunId, registerRun, unregisterRun, destroyRunObjects, runLeftovers } from '../helpers/netns.js';

const BIN = TENDRIL_BIN;
const run = promisify(execFile);

test('agent with the datapath: transparent redirect from its cgroup, explicit from outside, clean stop', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true })) return;
  const id = newRunId();
  registerRun(id);
  t.after(() => {
    destroyRunObjects(id);
    unregisterRun(id);
  });
  const cgroup = join(CGROUP_ROOT, `tendril-ci-${id}`);

  const seen: string[] = [];
  const app = await startHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url} from ${req.socket.remoteAddress}`);
    res.end('ok\n');
  }, '127.0.1.10');
  t.after(() => app.close());

  const [health, hubble, metrics, listen] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const sets = [
    `health.listenAddress=127.0.0.1:${health}`,
    `hubble.listenAddress=127.0.0.1:${hubble}`,
    `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.store.enabled=false',
    'datapath.enabled=true',
    `datapath.cgroupRoot=${cgroup}`,
    `datapath.pinRoot=/sys/fs/bpf/tendril-ci-${id}`,
    // The redirect stands for payment-service-0 on the app's real port, so connect4 steers
    // connections to 127.0.1.10:<app port> into the listener.
    `standalone.redirects=[{listen: "127.0.0.1:${listen}", destination: "payments/payment-service-0:${app.port}", upstream: "127.0.1.10:${app.port}"}]`,
  ];
  // The example policy judges port 8080; write a copy for the app's port.
  const policyDir = join('/tmp', `tendril-ci-${id}-policy`);
  await run('mkdir', ['-p', policyDir]);
  t.after(() => run('rm', ['-rf', policyDir]));
  writeFileSync(
    join(policyDir, 'l7.yaml'),
    `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: payment-service-l7, namespace: payments}\nspec:\n  endpointSelector: {matchLabels: {app: payment-service}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: checkout-service, k8s:io.kubernetes.pod.namespace: checkout}}]\n    toPorts:\n    - ports: [{port: "${app.port}", protocol: TCP}]\n      rules:\n        http:\n        - {method: GET, path: "/api/v1/payments/.*"}\n`,
  );
  sets.push(`standalone.policies=[${policyDir}]`);

  const agent = spawnAgent(t, sets);
  await waitReady(agent, `127.0.0.1:${health}`);
  const { child } = agent;
  const status = (await (await request(`http://127.0.0.1:${health}/status`)).body.json()) as { components: Record<string, any> };
  assert.equal(status.components.datapath.running, true, JSON.stringify(status.components.datapath));
  assert.equal(status.components.proxy.mode, 'transparent+explicit');
  assert.ok(existsSync(cgroup), 'the agent created its cgroup');

  // Inside the agent's cgroup: join it first, then curl the pod address directly.
  const inCgroup = async (method: string, path: string): Promise<string> => {
    const { stdout } = await run('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec curl -s -o /dev/null -w '%{http_code}' -X ${method} --interface 127.0.1.20 http://127.0.1.10:${app.port}${path}`]);
    return stdout;
  };
  assert.equal(await inCgroup('GET', '/api/v1/payments/P1'), '200');
  assert.equal(await inCgroup('DELETE', '/api/v1/payments/P1'), '403', 'redirected to the proxy and denied');
  assert.deepEqual(seen, [`GET /api/v1/payments/P1 from 127.0.0.1`], 'the app saw only the allowed request, from the proxy');

  // Outside the cgroup nothing is redirected: the DELETE reaches the app directly.
  const direct = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'DELETE', '--interface', '127.0.1.20', `http://127.0.1.10:${app.port}/x`]);
  assert.equal(direct.stdout, '200');
  assert.equal(seen.at(-1), 'DELETE /x from 127.0.1.20');

  // Explicit mode still works: dialling the listener itself.
  const explicit = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'DELETE', '--interface', '127.0.1.20', `http://127.0.0.1:${listen}/api/v1/payments/P1`]);
  assert.equal(explicit.stdout, '403');

  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0, agent.logs());
  assert.ok(!existsSync(cgroup), 'the agent removed the cgroup it created');
  assert.deepEqual(runLeftovers(id), []);
});
