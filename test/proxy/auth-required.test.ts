/**
 * Mutual authentication fails closed (docs/proxy.md, Authentication): a rule with
 * `authentication.mode: required` on a connection nothing authenticated is a denial, through the
 * real `tendril proxy` and `tendril agent` on the example policy (config/examples/auth): HTTP
 * 403 `Access denied`, a DROPPED flow with drop_reason_desc AUTH_REQUIRED naming the policy, no
 * `auth_type`, nothing forwarded. A connection whose redirect target carries `authenticated` is
 * judged normally and its flows say `auth_type: SPIRE`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type net from 'node:net';
import pino from 'pino';
import { CallbackSink, type Flow } from '../../observe/index.js';
import { createEngine, loadPolicies, loadWorld } from '../../policy/index.js';
import { normalizeIp, startProxy, type RedirectSource, type RedirectTarget } from '../../proxy/index.js';
import { startCliProxy } from './helpers/cli-proxy.js';
import { rawExchange, startRecordingUpstream, statusCodes } from './helpers/harness.js';
import { spawnAgent, waitReady, TENDRIL_BIN } from '../helpers/agent.js';
import { freePort } from '../helpers/servers.js';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const AUTH_POLICIES = join(REPO, 'config/examples/auth');
const AUTH_POLICY = { namespace: 'payments', name: 'payment-service-mutual-auth' };

/** The example world with its 127.0.1.x pods moved to 127.0.<subnet>.x. */
function exampleWorld(subnet: number, t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'world.yaml');
  writeFileSync(file, readFileSync(join(REPO, 'config/examples/world.yaml'), 'utf8').replaceAll('127.0.1.', `127.0.${subnet}.`));
  return file;
}

async function curl(args: string[]): Promise<{ code: string; body: string }> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '5', '-w', '\n%{http_code}', ...args]);
  const nl = stdout.lastIndexOf('\n');
  return { body: stdout.slice(0, nl), code: stdout.slice(nl + 1) };
}

function assertAuthDrop(flows: Array<Record<string, any>>): void {
  const req = flows.find((f) => f.l7?.type === 'REQUEST');
  assert.ok(req, `a request flow, got ${JSON.stringify(flows)}`);
  assert.equal(req.verdict, 'DROPPED');
  assert.equal(req.drop_reason_desc, 'AUTH_REQUIRED');
  assert.deepEqual(req.ingress_denied_by?.[0] && { namespace: req.ingress_denied_by[0].namespace, name: req.ingress_denied_by[0].name }, AUTH_POLICY);
  assert.equal(req.source.pod_name, 'checkout-service-0');
  for (const f of flows) assert.equal(f.auth_type, undefined, 'nothing was authenticated: no auth_type');
  const res = flows.find((f) => f.l7?.type === 'RESPONSE');
  assert.ok(res, 'a response flow for the 403');
  assert.equal(res.drop_reason_desc, 'AUTH_REQUIRED', 'the 403 response flow says why too');
}

test('tendril proxy on the auth example: unauthenticated checkout gets 403 and an AUTH_REQUIRED drop', { timeout: 40_000 }, async (t) => {
  const world = exampleWorld(150, t);
  const up = await startRecordingUpstream('127.0.150.10');
  t.after(() => up.close());
  const p = await startCliProxy(t, [
    '--policies', AUTH_POLICIES, '--world', world, '--listen', '127.0.150.1:0',
    '--destination', 'payments/payment-service-0:8080', '--upstream', `${up.host}:${up.port}`, '--flows', '-',
  ]);
  const r = await curl(['--interface', '127.0.150.20', `${p.url}/api/v1/payments/P1`]);
  assert.equal(r.code, '403');
  assert.equal(r.body, 'Access denied\r\n');
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
  assert.equal(up.requests.length, 0, 'nothing reached the upstream');
  assertAuthDrop(p.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>));
});

test('tendril agent on the auth example: 403 and an AUTH_REQUIRED drop in its flows', { timeout: 60_000 }, async (t) => {
  const world = exampleWorld(151, t);
  const up = await startRecordingUpstream('127.0.151.10');
  t.after(() => up.close());
  const [health, hubble, metrics, redirect] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const agent = spawnAgent(t, [
    `health.listenAddress=127.0.0.1:${health}`,
    `hubble.listenAddress=127.0.0.1:${hubble}`,
    `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.store.enabled=false',
    `standalone.policies=[${AUTH_POLICIES}]`,
    `standalone.world=${world}`,
    `standalone.redirects=[{listen: "127.0.151.1:${redirect}", destination: "payments/payment-service-0:8080", upstream: "${up.host}:${up.port}"}]`,
    'datapath.enabled=false',
  ]);
  await waitReady(agent, `127.0.0.1:${health}`);
  const r = await curl(['--interface', '127.0.151.20', `http://127.0.151.1:${redirect}/api/v1/payments/P1`]);
  assert.equal(r.code, '403');
  assert.equal(r.body, 'Access denied\r\n');
  assert.equal(up.requests.length, 0, 'nothing reached the upstream');
  const { stdout } = await run(process.execPath, [TENDRIL_BIN, 'observe', '--server', `127.0.0.1:${hubble}`, '--last', '10', '-o', 'json']);
  assertAuthDrop(stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>).map((x) => (x.flow ?? x) as Record<string, any>));
  agent.child.kill('SIGTERM');
});

class AuthenticatedSource implements RedirectSource {
  constructor(private readonly make: (ip: string, port: number) => RedirectTarget) {}
  resolve(socket: net.Socket): RedirectTarget {
    return this.make(normalizeIp(socket.remoteAddress)!, socket.remotePort!);
  }
}

test('a target the tunnel authenticated is judged normally and its flows carry auth_type SPIRE', async (t) => {
  const engine = createEngine({ policies: loadPolicies([AUTH_POLICIES]), world: loadWorld(exampleWorld(152, t)) });
  const up = await startRecordingUpstream('127.0.152.10');
  t.after(() => up.close());
  const flows: Flow[] = [];
  const target = (authenticated: boolean) => (ip: string, port: number): RedirectTarget => ({
    source: { ip, port, endpoint: engine.endpointByIp(ip) },
    destination: { ip: '127.0.152.10', port: 8080, endpoint: 'payments/payment-service-0' },
    upstream: { host: up.host, port: up.port },
    ...(authenticated ? { authenticated: { type: 'SPIRE' as const, spiffeId: 'spiffe://cluster.local/ns/checkout/sa/checkout-service' } } : {}),
  });
  const proxy = await startProxy({
    engine,
    log: pino({ level: 'silent' }),
    flows: new CallbackSink((f) => flows.push(f)),
    redirects: [
      { listen: { host: '127.0.152.1', port: 0 }, protocol: 'http', source: new AuthenticatedSource(target(true)) },
      { listen: { host: '127.0.152.2', port: 0 }, protocol: 'http', source: new AuthenticatedSource(target(false)) },
    ],
  });
  t.after(() => proxy.close());
  const H = 'Host: payment-service:8080\r\n';
  const [a, b] = proxy.listeners.map((l) => l.address);
  const ok = await rawExchange(a!.host, a!.port, '127.0.152.20', `GET /api/v1/payments/P1 HTTP/1.1\r\n${H}\r\nDELETE /api/v1/payments/P1 HTTP/1.1\r\n${H}\r\n`);
  assert.deepEqual(statusCodes(ok.text), [200, 403], 'authenticated: the L7 rules decide');
  const okFlows = flows.splice(0);
  const fwd = okFlows.find((f) => f.l7?.type === 'REQUEST' && f.verdict === 'FORWARDED');
  assert.equal(fwd?.auth_type, 'SPIRE');
  const l7Denied = okFlows.find((f) => f.l7?.type === 'REQUEST' && f.verdict === 'DROPPED');
  assert.equal(l7Denied?.drop_reason_desc, 'POLICY_DENIED', 'an L7 denial after authentication is a policy denial');
  const no = await rawExchange(b!.host, b!.port, '127.0.152.20', `GET /api/v1/payments/P1 HTTP/1.1\r\n${H}\r\n`);
  assert.deepEqual(statusCodes(no.text), [403]);
  assertAuthDrop(JSON.parse(JSON.stringify(flows)) as Array<Record<string, any>>);
  assert.deepEqual(up.requests.map((r) => r.method), ['GET']);
});
