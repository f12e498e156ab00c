/**
 * The seed article's headline scenario, end to end through `tendril agent` (standalone, the
 * corrected example policies): checkout may GET /api/v1/payments/P123 and POST
 * /api/v1/payments on payment-service:8080, DELETE is answered 403 before it reaches the app, and
 * each request becomes a flow readable through the Hubble API (`tendril observe`) and metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { request } from 'undici';
import { freePort, startHttpServer } from '../helpers/servers.js';
import { spawnAgent, waitReady, TENDRIL_BIN } from '../helpers/agent.js';

const BIN = TENDRIL_BIN;
const run = promisify(execFile);

test('seed scenario through the agent: allowed, denied, flows and metrics', async (t) => {
  const seen: string[] = [];
  const app = await startHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'text/plain' });
    res.end('ok\n');
  }, '127.0.1.10');
  t.after(() => app.close());

  const [health, hubble, metrics, listen] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const sets = ['health.listenAddress=127.0.0.1:' + health, `hubble.listenAddress=127.0.0.1:${hubble}`, `hubble.metrics.listenAddress=127.0.0.1:${metrics}`, 'hubble.store.enabled=false', 'datapath.enabled=false', `standalone.redirects=[{listen: "127.0.0.1:${listen}", destination: "payments/payment-service-0:8080", upstream: "127.0.1.10:${app.port}"}]`];
  const agent = spawnAgent(t, sets);
  await waitReady(agent, `127.0.0.1:${health}`);
  const { child } = agent;

  const curl = async (method: string, path: string, from: string): Promise<{ code: number; body: string }> => {
    const { stdout } = await run('curl', ['-s', '--interface', from, '-X', method, '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:${listen}${path}`]);
    const i = stdout.lastIndexOf('\n');
    return { body: stdout.slice(0, i), code: Number(stdout.slice(i + 1)) };
  };

  // checkout-service (127.0.1.20): GET and POST allowed, DELETE denied with Envoy's body.
  assert.equal((await curl('GET', '/api/v1/payments/P123', '127.0.1.20')).code, 200);
  assert.equal((await curl('POST', '/api/v1/payments', '127.0.1.20')).code, 201);
  const del = await curl('DELETE', '/api/v1/payments/123', '127.0.1.20');
  assert.equal(del.code, 403);
  assert.equal(del.body, 'Access denied\r\n');
  assert.deepEqual(seen, ['GET /api/v1/payments/P123', 'POST /api/v1/payments'], 'the app never saw the DELETE');

  // The Hubble API has the flows; the compact lines look like hubble's.
  const obs = await run(process.execPath, [BIN, 'observe', '--server', `127.0.0.1:${hubble}`, '--namespace', 'payments', '--last', '50', '-o', 'compact']);
  assert.match(obs.stdout, /checkout\/checkout-service-0:\d+ \(ID:1000\) -> payments\/payment-service-0:8080 \(ID:1005\) http-request FORWARDED \(HTTP\/1\.1 GET http:\/\/[^ ]*\/api\/v1\/payments\/P123\)/);
  assert.match(obs.stdout, /http-request DROPPED \(HTTP\/1\.1 DELETE http:\/\/[^ ]*\/api\/v1\/payments\/123\)/);
  const dropped = await run(process.execPath, [BIN, 'observe', '--server', `127.0.0.1:${hubble}`, '--verdict', 'DROPPED', '--last', '50', '-o', 'json']);
  const drops = dropped.stdout.trim().split('\n').map((l) => JSON.parse(l) as { flow?: Record<string, any> } & Record<string, any>).map((x) => x.flow ?? x);
  assert.ok(drops.length >= 1 && drops.every((f) => f.verdict === 'DROPPED'), dropped.stdout);

  // Prometheus metrics with Hubble's names.
  const text = await (await request(`http://127.0.0.1:${metrics}/metrics`)).body.text();
  assert.match(text, /hubble_flows_processed_total\{[^}]*verdict="DROPPED"[^}]*\} [1-9]/);
  assert.match(text, /hubble_http_requests_total\{[^}]*method="GET"[^}]*\} [1-9]/);

  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0, agent.logs());
});
