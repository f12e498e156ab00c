/**
 * `tendril proxy --protocol dns` as docs/reference/proxy-contract.md says: UDP and TCP at --listen,
 * the source's egress rules.dns toward --destination judged, REFUSED for denied names, flows as
 * JSON lines with `l7.dns`, exit 0 on SIGTERM; a bad --dns-reject-response-code exits 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnTendril, startCliProxy } from './helpers/cli-proxy.js';
import { startUnbound } from '../helpers/dns-servers.js';

const run = promisify(execFile);
const PAY = '127.0.172.10';

test('tendril proxy --protocol dns: UDP and TCP, REFUSED, l7.dns flows, SIGTERM exits 0', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-dns-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'world.yaml'),
    `namespaces: [{name: payments}, {name: kube-system}]
endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${PAY}]}
  - {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}, ips: [127.0.172.53]}
`,
  );
  writeFileSync(
    join(dir, 'egress.yaml'),
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: payment-service-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]
      rules: {dns: [{matchPattern: "*.stripe.com"}]}
`,
  );
  const unbound = await startUnbound('127.0.172.53');
  t.after(() => unbound.stop());
  const p = await startCliProxy(t, [
    '--policies', join(dir, 'egress.yaml'),
    '--world', join(dir, 'world.yaml'),
    '--listen', '127.0.172.1:0',
    '--destination', 'kube-system/coredns-0:53',
    '--upstream', '127.0.172.53:5353',
    '--protocol', 'dns',
    '--flows', '-',
  ]);
  const dig = async (...args: string[]): Promise<string> => (await run('dig', [`@${p.host}`, '-p', String(p.port), '-b', PAY, '+tries=1', '+time=3', ...args])).stdout;
  assert.match(await dig('api.stripe.com'), /status: NOERROR/);
  assert.match(await dig('+tcp', 'api.stripe.com'), /status: NOERROR/);
  assert.match(await dig('stripe.com'), /status: REFUSED/); // *.stripe.com needs one label in front
  assert.match(await dig('+tcp', 'google.com'), /status: REFUSED/);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
  const flows = p.stdout().trim().split('\n').map((l) => JSON.parse(l) as { verdict: string; l7?: { type: string; dns?: { query: string; rcode?: number; ips?: string[] } }; l4?: Record<string, unknown> });
  const q = (name: string, type: string) => flows.filter((f) => f.l7?.dns?.query === name && f.l7.type === type);
  assert.equal(q('api.stripe.com.', 'REQUEST').length, 2);
  assert.ok(q('api.stripe.com.', 'REQUEST').every((f) => f.verdict === 'FORWARDED'));
  assert.deepEqual(q('api.stripe.com.', 'REQUEST').map((f) => Object.keys(f.l4 ?? {})[0]), ['UDP', 'TCP']);
  assert.ok(q('api.stripe.com.', 'RESPONSE').every((f) => f.l7!.dns!.rcode === 0 && (f.l7!.dns!.ips?.length ?? 0) === 2));
  assert.equal(q('google.com.', 'REQUEST')[0]?.verdict, 'DROPPED');
  assert.equal(q('google.com.', 'RESPONSE').length, 0);
});

test('tendril proxy --protocol dns: a bad --dns-reject-response-code exits 2 naming the flag', async () => {
  const p = spawnTendril(['proxy', '--policies', 'config/examples/corrected', '--world', 'config/examples/world.yaml', '--listen', '127.0.172.2:0', '--destination', 'kube-system/coredns-0:53', '--upstream', '127.0.172.53:5353', '--protocol', 'dns', '--dns-reject-response-code', 'drop']);
  assert.equal(await p.exited, 2);
  assert.match(p.stderr(), /--dns-reject-response-code must be refused or nameError/);
});
