/**
 * `tendril agent` with the datapath on and a `protocol: dns` redirect (docs/dns.md "Datapath"):
 * the agent itself installs the port-53 redirects (UDP and TCP) for the resolver that
 * payment-service's egress policy reaches with `rules.dns`, and its DNS proxy forwards each
 * redirected query to the resolver the client asked (the original destination the datapath
 * recorded), not to the configured upstream (a dead address here). A process in the agent's
 * cgroup acting as payment-service-0 resolves api.stripe.com over UDP and TCP; google.com is
 * REFUSED; the learned address gets a datapath identity; a client outside the cgroup talks to
 * the resolver directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { freePort } from '../helpers/servers.js';
import { spawnAgent, waitReady, TENDRIL_BIN } from '../helpers/agent.js';
import { startUnbound } from '../helpers/dns-servers.js';
import { CGROUP_ROOT, newRunId, registerRun, unregisterRun, destroyRunObjects, runLeftovers } from '../helpers/netns.js';

const run = promisify(execFile);
const PAY = '127.0.215.10';
const DNS = '127.0.215.53';
const STRIPE = '127.0.215.80';

const WORLD = `namespaces:
  - name: payments
  - name: kube-system
endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${PAY}]}
  - {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}, ips: [${DNS}]}
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

test('agent with the datapath: port-53 redirect to its DNS proxy, original resolver, learned identities', { timeout: 90_000 }, async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true })) return;
  const id = newRunId();
  registerRun(id);
  t.after(() => {
    destroyRunObjects(id);
    unregisterRun(id);
  });
  const cgroup = join(CGROUP_ROOT, `tendril-ci-${id}`);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-dns-dp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'world.yaml'), WORLD);
  writeFileSync(join(dir, 'egress.cnp.yaml'), POLICY);
  // The resolver pods ask for: coredns-0's own address, port 53.
  const unbound = await startUnbound(DNS, 53, '', { apiIps: [STRIPE] });
  t.after(() => unbound.stop());

  const [health, hubble, metrics, listen] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const agent = spawnAgent(t, [
    `health.listenAddress=127.0.0.1:${health}`,
    `hubble.listenAddress=127.0.0.1:${hubble}`,
    `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.store.enabled=false',
    'datapath.enabled=true',
    `datapath.cgroupRoot=${cgroup}`,
    `datapath.pinRoot=/sys/fs/bpf/tendril-ci-${id}`,
    `standalone.policies=[${dir}/egress.cnp.yaml]`,
    `standalone.world=${dir}/world.yaml`,
    // The configured upstream is dead: only the recorded original destination can answer.
    `standalone.redirects=[{listen: "127.0.0.1:${listen}", destination: "kube-system/coredns-0:53", upstream: "127.0.215.99:53", protocol: dns}]`,
  ]);
  await waitReady(agent, `127.0.0.1:${health}`);
  const status = async (): Promise<Record<string, any>> => ((await (await request(`http://127.0.0.1:${health}/status`)).body.json()) as { components: Record<string, any> }).components;
  assert.equal((await status()).datapath.running, true, JSON.stringify((await status()).datapath));
  assert.equal((await status()).datapath.learnedAddresses, 0);

  // payment-service-0 inside the agent's cgroup asks coredns-0 directly.
  const digIn = async (name: string, ...args: string[]): Promise<string> =>
    (await run('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec dig @${DNS} -b ${PAY} +tries=1 +time=3 ${args.join(' ')} ${name}`])).stdout;
  const udp = await digIn('api.stripe.com');
  assert.match(udp, /status: NOERROR/, udp);
  assert.match(udp, new RegExp(`SERVER: ${DNS.replace(/\./g, '\\.')}#53`), 'the reply shows the address asked');
  assert.match(udp, new RegExp(`IN\\s+A\\s+${STRIPE.replace(/\./g, '\\.')}`));
  assert.match(await digIn('api.stripe.com', '+tcp'), /status: NOERROR/);
  assert.match(await digIn('google.com'), /status: REFUSED/);
  assert.match(await digIn('google.com', '+tcp'), /status: REFUSED/);

  const dns = (await status()).dns;
  assert.equal(dns.listeners[0].queries, 4, `every query went through the proxy: ${JSON.stringify(dns)}`);
  assert.equal(dns.listeners[0].forwarded, 2);
  assert.equal(dns.listeners[0].denied, 2);
  assert.equal(dns.listeners[0].upstreamTimeouts, 0, 'nothing went to the configured (dead) upstream');
  // The learned address got a local identity in the datapath's ipcache.
  assert.equal((await status()).datapath.learnedAddresses, 1);
  const rows = JSON.parse((await run(process.execPath, [TENDRIL_BIN, 'fqdn', 'cache', 'list', '-o', 'json', '--server', `127.0.0.1:${health}`])).stdout) as { name: string; source: string }[];
  assert.deepEqual(rows.map((r) => [r.name, r.source]), [['api.stripe.com.', 'payments/payment-service-0']]);

  // Outside the cgroup nothing is redirected: unbound answers google.com itself (not REFUSED).
  const direct = (await run('dig', [`@${DNS}`, '-b', PAY, '+tries=1', '+time=3', 'google.com'])).stdout;
  assert.doesNotMatch(direct, /status: REFUSED/, direct);
  assert.equal((await status()).dns.listeners[0].queries, 4);

  agent.child.kill('SIGTERM');
  const [code] = (await once(agent.child, 'exit')) as [number];
  assert.equal(code, 0, agent.logs());
  assert.deepEqual(runLeftovers(id), []);
});
