/**
 * The seed's payment-service egress scenario through the real `tendril agent` (docs/dns.md
 * "Datapath"): pods in network namespaces under the agent's cgroup, the agent in the node netns
 * with `datapath.podInterfaces` naming the pay pod's interface. The agent installs the port-53
 * redirects and the egress entries itself: `dig @10.96.0.10 api.stripe.com` from the pay pod
 * (UDP and TCP) reaches the agent's DNS proxy, which forwards to 10.96.0.10 (the resolver asked;
 * the configured upstream is dead); the pod connects to the learned address; google.com is
 * REFUSED; a connect to an address never learned is dropped with an EGRESS drop flow naming it;
 * after TTL plus grace the learned address drops again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork, waitForLine } from '../helpers/pod.js';
import { startTool, runTool } from '../helpers/datapath.js';
import { TENDRIL_BIN } from '../helpers/agent.js';
import { CGROUP_ROOT } from '../helpers/netns.js';

const NODE = fileURLToPath(new URL('./fixtures/dns-agent-node.ts', import.meta.url));

const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: payment-service-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]
      rules: {dns: [{matchName: "api.stripe.com"}]}
  - toFQDNs: [{matchName: "api.stripe.com"}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
`;

test('tendril agent: DNS redirect, original resolver, toFQDNs egress enforcement from learned names', { timeout: 120_000 }, async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const pay = net.addPod('pay');
  const stripe = net.addPod('stripe');
  const other = net.addPod('other');
  await startTool(net, 'stripe', ['serve-tcp', stripe.ip, '443', 'stripe']);
  await startTool(net, 'other', ['serve-tcp', other.ip, '443', 'other']);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-dns-netns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'world.yaml'),
    `namespaces: [{name: payments}, {name: kube-system}]
endpoints:
  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${pay.ip}]}
  - {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}, ips: [10.96.0.10]}
`,
  );
  writeFileSync(join(dir, 'egress.cnp.yaml'), policy);
  const sets = [
    'health.listenAddress=127.0.0.1:9879',
    'hubble.listenAddress=127.0.0.1:4245',
    'hubble.metrics.listenAddress=127.0.0.1:9965',
    'hubble.store.enabled=false',
    'datapath.enabled=true',
    `datapath.cgroupRoot=${net.cgroupParent}`,
    `datapath.pinRoot=/sys/fs/bpf/tendril-ci-${net.id}`,
    `datapath.podInterfaces=[{netns: "${pay.nsPath}", interface: "${pay.ifname}"}]`,
    `standalone.policies=[${dir}/egress.cnp.yaml]`,
    `standalone.world=${dir}/world.yaml`,
    `standalone.redirects=[{listen: "${pay.gateway}:53", destination: "kube-system/coredns-0:53", upstream: "127.0.0.99:53", protocol: dns}]`,
    'dnsProxy.idleConnectionGracePeriod=1s',
  ];
  const self = readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m)![1]!;
  const node = net.spawn('node', process.execPath, ['--import', 'tsx', NODE, stripe.ip, TENDRIL_BIN, join(CGROUP_ROOT, self), '--', ...sets.flatMap((s) => ['--set', s])]);
  let log = '';
  node.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  node.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitForLine(node, /READY/, 30_000);
  const curl = async (path: string): Promise<any> => JSON.parse((await net.exec('node', 'curl', ['-s', `http://127.0.0.1:9879${path}`])).stdout);
  for (let i = 0; ; i++) {
    const r = await net.exec('node', 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9879/readyz']);
    if (r.stdout === '200') break;
    if (i > 200 || node.exitCode !== null) assert.fail(`agent not ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const connect = async (ip: string): Promise<{ reply?: string; error?: string }> => (await runTool<{ reply?: string; error?: string }>(net, 'pay', ['connect', ip, '443', '1']))[0]!;
  const dig = async (name: string, ...args: string[]): Promise<string> => (await net.exec('pay', 'dig', ['@10.96.0.10', '+tries=1', '+time=3', ...args, name])).stdout;

  assert.ok((await connect(stripe.ip)).error, 'before the lookup: dropped');
  const ok = await dig('api.stripe.com');
  if (!/status: NOERROR/.test(ok)) {
    const l7 = (await net.exec('node', process.execPath, [TENDRIL_BIN, 'observe', '--server', '127.0.0.1:4245', '--last', '10', '-o', 'json'])).stdout;
    assert.fail(`${ok}\nflows: ${l7}\n${log}`);
  }
  assert.match(ok, /SERVER: 10\.96\.0\.10#53/);
  assert.match(ok, new RegExp(`IN\\s+A\\s+${stripe.ip.replace(/\./g, '\\.')}`));
  assert.match(await dig('api.stripe.com', '+tcp'), /status: NOERROR/);
  assert.match((await connect(stripe.ip)).reply ?? '', /^stripe saw/, 'learned address connects');
  assert.match(await dig('google.com'), /status: REFUSED/);
  assert.match(await dig('google.com', '+tcp'), /status: REFUSED/);

  const never = await connect(other.ip);
  assert.ok(never.error, 'never-learned address: dropped');
  const flows = (await net.exec('node', process.execPath, [TENDRIL_BIN, 'observe', '--server', '127.0.0.1:4245', '--type', 'drop', '--to-ip', other.ip, '-o', 'json'])).stdout;
  const drop = flows.split('\n').filter(Boolean).map((l) => JSON.parse(l).flow).find((f) => f?.IP?.destination === other.ip);
  assert.ok(drop, `a drop flow for ${other.ip}: ${flows}`);
  assert.equal(drop.verdict, 'DROPPED');
  assert.equal(drop.traffic_direction, 'EGRESS');
  assert.equal(drop.drop_reason_desc, 'POLICY_DENIED');
  assert.equal(drop.source?.pod_name, 'payment-service-0');
  const dns = (await curl('/status')).components.dns;
  assert.equal(dns.listeners[0].upstreamTimeouts, 0, 'nothing went to the configured (dead) upstream');

  // TTL 2 s + grace 1 s + the 1 s sweep: the address is withdrawn, new connections drop.
  await new Promise((r) => setTimeout(r, 5000));
  assert.ok((await connect(stripe.ip)).error, `expired address: dropped\n${log}`);
  node.kill('SIGTERM');
  const code = await new Promise((r) => node.once('exit', r));
  assert.equal(code, 0, log);
});
