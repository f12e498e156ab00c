/**
 * The seed's payment-service egress scenario end to end in network namespaces (docs/dns.md
 * "Datapath"): the pay pod asks kube-dns (10.96.0.10) for api.stripe.com, over UDP and TCP; the
 * socket programs redirect port 53 to the DNS proxy and replies come back from 10.96.0.10; it
 * connects to the learned address; other names are REFUSED; a direct connect to an address never learned
 * is dropped by tc egress with an EGRESS drop flow that names it; after the TTL (2 s) plus the
 * grace period (1 s) the learned address stops working for new connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork, waitForLine } from '../helpers/pod.js';
import { PRIVATE_BPFFS_PARENT } from '../helpers/netns.js';
import { startTool, runTool } from '../helpers/datapath.js';

const NODE = fileURLToPath(new URL('./fixtures/dns-egress-node.ts', import.meta.url));

interface ConnectResult {
  reply?: string;
  error?: string;
}

test('payment-service egress: allowed name resolves and connects, others REFUSED, unlearned and expired addresses dropped', { timeout: 120_000 }, async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const pay = net.addPod('pay');
  const stripe = net.addPod('stripe');
  const other = net.addPod('other');
  await startTool(net, 'stripe', ['serve-tcp', stripe.ip, '443', 'stripe']);
  await startTool(net, 'other', ['serve-tcp', other.ip, '443', 'other']);
  const node = net.spawn('node', process.execPath, ['--import', 'tsx', NODE, net.cgroupParent, `tendril-ci-${net.id}`, PRIVATE_BPFFS_PARENT, pay.nsPath, pay.ifname, pay.ip, pay.gateway, stripe.ip, pay.cgroup]);
  let log = '';
  node.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  let errLog = '';
  node.stderr!.on('data', (d: Buffer) => (errLog += d.toString()));
  try {
    await waitForLine(node, /"ready":true/, 30_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nstderr: ${errLog}`);
  }
  const lines = (): Array<Record<string, any>> => log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const connect = async (ip: string): Promise<ConnectResult> => (await runTool<ConnectResult>(net, 'pay', ['connect', ip, '443', '1']))[0]!;
  const dig = async (name: string, ...args: string[]): Promise<string> => (await net.exec('pay', 'dig', ['@10.96.0.10', '+tries=1', '+time=3', ...args, name])).stdout;

  // Nothing learned yet: api.stripe.com's address is plain world, dropped.
  assert.ok((await connect(stripe.ip)).error, 'before the lookup: dropped');

  const ok = await dig('api.stripe.com');
  assert.match(ok, /status: NOERROR/);
  assert.match(ok, /SERVER: 10\.96\.0\.10#53/, `the reply comes from the address asked: ${ok}`);
  assert.match(await dig('api.stripe.com', '+tcp'), /status: NOERROR/);
  assert.match(ok, new RegExp(`IN\\s+A\\s+${stripe.ip.replace(/\./g, '\\.')}`));
  assert.match((await connect(stripe.ip)).reply ?? '', /^stripe saw/, 'learned address connects');

  assert.match(await dig('google.com'), /status: REFUSED/);
  assert.match(await dig('google.com', '+tcp'), /status: REFUSED/);
  const never = await connect(other.ip);
  assert.ok(never.error, 'never-learned address: dropped');
  await new Promise((r) => setTimeout(r, 300));
  const drop = lines().find((l) => l.drop && l.drop.IP?.destination === other.ip);
  assert.ok(drop, `a drop flow for ${other.ip}: ${log}`);
  assert.equal(drop.drop.verdict, 'DROPPED');
  assert.equal(drop.drop.traffic_direction, 'EGRESS');
  assert.equal(drop.drop.drop_reason_desc, 'POLICY_DENIED');
  assert.equal(drop.drop.source?.pod_name, 'payment-service-0');
  assert.deepEqual(drop.drop.egress_denied_by, [{ name: 'default-deny' }]);
  const dnsDenied = lines().find((l) => l.dns?.l7?.dns?.query === 'google.com.');
  assert.equal(dnsDenied?.dns.verdict, 'DROPPED');

  // TTL 2 s + grace 1 s (+ sweep every 200 ms): the address is withdrawn, new connections drop.
  await new Promise((r) => setTimeout(r, 4000));
  assert.ok((await connect(stripe.ip)).error, 'expired address: dropped');
  assert.ok(lines().some((l) => l.learned && Object.keys(l.learned).length === 0), 'the cache reported the expiry');
  node.kill('SIGTERM');
  await new Promise((r) => node.once('exit', r));
});
