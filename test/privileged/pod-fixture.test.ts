/**
 * The pod fixture itself: two pods in their own netns + child cgroup, an HTTP request
 * from one to a node:http server in the other (routed through the run's node netns), and a
 * teardown that leaves no netns, cgroup or pin dir behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork, waitForLine } from '../helpers/pod.js';
import { netnsList, CGROUP_ROOT, runLeftovers, sweepStaleRuns, RUNS_DIR, isPidAlive } from '../helpers/netns.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const cg = /^0::.*$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))[0];
const srv = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('pod-b says hi to ' + req.socket.remoteAddress + ' cg=' + cg);
});
srv.listen(8080, process.argv[1], () => console.log('LISTENING ' + srv.address().address));
`;

test('a process in pod a reaches a node:http server in pod b; teardown leaves nothing', async (t) => {
  if (!privilegedOrSkip(t, { netns: true, cgroup: true })) return;
  const net = PodNetwork.create(t);
  const a = net.addPod('a');
  const b = net.addPod('b');

  const server = net.spawn('b', process.execPath, ['-e', SERVER, b.ip]);
  await waitForLine(server, /LISTENING 10\.250\.2\.2/);

  // The server process really is in pod b's cgroup (joined before nsenter).
  const cg = readFileSync(`/proc/${server.pid}/cgroup`, 'utf8');
  assert.match(cg, new RegExp(`tendril-ci-${net.id}/b`), 'server joined the pod cgroup');

  const r = await net.exec('a', 'curl', ['-sS', '--max-time', '5', `http://${b.ip}:8080/hello`]);
  assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
  assert.match(r.stdout, new RegExp(`pod-b says hi to ${a.ip.replace(/\./g, '\\.')} cg=0::/tendril-ci-${net.id}/b`));

  // The host cannot reach pod addresses: they exist only inside the run's namespaces.
  const hostRoutes = readFileSync('/proc/net/route', 'utf8');
  assert.ok(!hostRoutes.includes('00FAFA0A'), 'no 10.250.250.0 route on the host');

  // Pod a's own view: it only has lo and its veth end.
  const links = await net.exec('a', 'ip', ['-o', 'link']);
  const names = links.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]);
  assert.deepEqual(names.sort(), [a.ifname, 'lo'].sort());

  const problems = net.teardown();
  assert.deepEqual(problems, []);
  assert.deepEqual(net.leftovers(), []);
  assert.ok(!netnsList().some((n) => n.startsWith(`td${net.id}-`)), 'no netns left');
  assert.ok(!existsSync(`${CGROUP_ROOT}/tendril-ci-${net.id}`), 'no cgroup left');
  assert.equal(server.exitCode !== null || server.signalCode !== null || server.killed, true, 'server process is gone');
});

const CHILD = fileURLToPath(new URL('./fixtures/failing-pod.ts', import.meta.url));

function runChild(mode: 'fail' | 'hang'): { child: ChildProcess; id: Promise<string> } {
  const env: NodeJS.ProcessEnv = { ...process.env, TD_FIXTURE_MODE: mode };
  delete env.NODE_TEST_CONTEXT; // run the child file as its own test run
  const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=tap', CHILD], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, id: waitForLine(child, /RUN ([a-z0-9]{5})\n/, 20_000).then((m) => m[1]!) };
}

test('teardown runs when a test fails midway (child test run exits 1, nothing left)', async (t) => {
  if (!privilegedOrSkip(t, { netns: true, cgroup: true })) return;
  const { child, id } = runChild('fail');
  const runId = await id;
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 1, 'the child test failed');
  assert.deepEqual(runLeftovers(runId), []);
});

test('a SIGKILLed run is removed by the next run\'s sweeper (only dead owners are swept)', async (t) => {
  if (!privilegedOrSkip(t, { netns: true, cgroup: true })) return;
  const { child, id } = runChild('hang');
  const runId = await id;
  assert.ok(runLeftovers(runId).length > 0, 'the run exists while its owner lives');
  assert.ok(!sweepStaleRuns().includes(runId), 'a live run is never swept');
  child.kill('SIGKILL');
  const owner = Number(readFileSync(`${RUNS_DIR}/${runId}.pid`, 'utf8'));
  if (owner !== child.pid) process.kill(owner, 'SIGKILL');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && isPidAlive(owner)) await new Promise((r) => setTimeout(r, 50));
  // SIGKILL runs no teardown, so the run is left behind until a sweeper sees its dead owner.
  // Privileged files run one at a time (scripts/run-tests.mjs), so ours is the only sweeper.
  assert.ok(runLeftovers(runId).length > 0, 'the dead run is still there');
  assert.ok(sweepStaleRuns().includes(runId), 'our sweeper removes the dead run');
  assert.deepEqual(runLeftovers(runId), []);
});
