/**
 * The agent with a DNS redirect (docs/dns.md "In the agent"): dig through it against unbound,
 * `tendril fqdn cache list [-o json]` shows what was learned (name, IPs, TTL left, source
 * endpoint), `tendril fqdn cache clean` empties it, and Hubble's DNS metrics count the queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { freePort } from '../helpers/servers.js';
import { spawnAgent, waitReady, TENDRIL_BIN } from '../helpers/agent.js';
import { startUnbound, ZONE } from '../helpers/dns-servers.js';

const run = promisify(execFile);
const PAY = '127.0.171.10';

const WORLD = `namespaces:
  - name: payments
  - name: kube-system
endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${PAY}]}
  - {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}, ips: [127.0.171.53]}
`;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: payment-service-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  egress:
  - toEndpoints:
    - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
    toPorts:
    - ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]
      rules:
        dns: [{matchName: "api.stripe.com"}]
  - toFQDNs: [{matchName: "api.stripe.com"}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
`;

test('agent DNS redirect: enforce (dnsProxy.* config), learn, fqdn cache list/clean, dns metrics', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-dns-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'world.yaml'), WORLD);
  writeFileSync(join(dir, 'egress.cnp.yaml'), POLICY);
  const unbound = await startUnbound('127.0.171.53');
  t.after(() => unbound.stop());
  const [health, hubble, metrics] = await Promise.all([freePort(), freePort(), freePort()]);
  const agent = spawnAgent(t, [
    `health.listenAddress=127.0.0.1:${health}`,
    `hubble.listenAddress=127.0.0.1:${hubble}`,
    `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.store.enabled=false',
    `standalone.policies=[${dir}/egress.cnp.yaml]`,
    `standalone.world=${dir}/world.yaml`,
    `standalone.redirects=[{listen: "127.0.171.1:0", destination: "kube-system/coredns-0:53", upstream: "127.0.171.53:5353", protocol: dns}]`,
    'datapath.enabled=false',
    'dnsProxy.dnsRejectResponseCode=nameError',
    'dnsProxy.minTtl=120',
  ]);
  await waitReady(agent, `127.0.0.1:${health}`);
  const status = (await (await request(`http://127.0.0.1:${health}/status`)).body.json()) as { components: { dns: { listeners: { address: string }[] } } };
  const [host, port] = status.components.dns.listeners[0]!.address.split(':');
  const dig = async (name: string): Promise<string> => (await run('dig', [`@${host}`, '-p', port!, '-b', PAY, '+tries=1', '+time=3', name])).stdout;
  assert.match(await dig('api.stripe.com'), /status: NOERROR/);
  assert.match(await dig('google.com'), /status: NXDOMAIN/); // dnsProxy.dnsRejectResponseCode=nameError

  const cli = async (...args: string[]): Promise<string> => (await run(process.execPath, [TENDRIL_BIN, 'fqdn', 'cache', ...args, '--server', `127.0.0.1:${health}`])).stdout;
  const rows = JSON.parse(await cli('list', '-o', 'json')) as { name: string; source: string; ips: { ip: string; ttlLeftSeconds: number }[] }[];
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.name, 'api.stripe.com.');
  assert.equal(rows[0]!.source, 'payments/payment-service-0');
  assert.deepEqual(rows[0]!.ips.map((i) => i.ip).sort(), [...ZONE.api].sort());
  // dnsProxy.minTtl=120 raises unbound's 60 s.
  assert.ok(rows[0]!.ips.every((i) => i.ttlLeftSeconds > 100 && i.ttlLeftSeconds <= 120), JSON.stringify(rows));
  const table = await cli('list');
  assert.match(table, /^Endpoint\s+FQDN\s+TTL/m);
  assert.match(table, /payments\/payment-service-0\s+api\.stripe\.com\.\s+\d+\/120/);
  assert.match(await cli('clean'), /removed 2 learned IP entries/);
  assert.deepEqual(JSON.parse(await cli('list', '-o', 'json')), []);

  const text = await (await request(`http://127.0.0.1:${metrics}/metrics`)).body.text();
  assert.match(text, /hubble_dns_queries_total\{[^}]*\} [1-9]/);
  assert.match(text, /hubble_dns_responses_total\{[^}]*rcode="No Error"[^}]*\} [1-9]/);
  assert.match(text, /hubble_dns_response_types_total\{[^}]*type="A"[^}]*\} [1-9]/);
});
