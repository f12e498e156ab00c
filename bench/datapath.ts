/**
 * Datapath benchmarks (privileged; `npm run bench -- datapath`):
 *  1. connect() latency (p50, p99) to a ClusterIP with 10 / 1,000 / 5,000 / 10,000 services
 *     installed, through the socket-LB (connect4 + O(1) hash lookups) and, in the same run,
 *     through kube-proxy-style iptables DNAT chains (KUBE-SERVICES -> KUBE-SVC-n, one match rule
 *     per service, the measured service LAST = worst case linear scan) built inside a private
 *     netns. Both measured from a pod (netns + cgroup) with Node's net.connect.
 *  2. app <-> proxy hop latency: a 64-byte TCP ping-pong between two sockets of one pod, with the
 *     sockmap fast path on and off (same programs attached; only sockhash insertion toggled).
 * Ends with the two lines scripts read (see the issue). Numbers are reported, never asserted.
 */
import pino from 'pino';
import { Datapath } from '../agent/datapath/index.js';
import { PodNetwork } from '../test/helpers/pod.js';
import { PRIVATE_BPFFS_PARENT, sh } from '../test/helpers/netns.js';
import { missingPrivilege } from '../test/helpers/privileged.js';
import { POD_TOOL, startTool, runTool } from '../test/helpers/datapath.js';

const COUNTS = [10, 1000, 5000, 10000];
const CONNECTS = Number(process.env.TENDRIL_BENCH_CONNECTS ?? 1500);
const HOPS = Number(process.env.TENDRIL_BENCH_HOPS ?? 10000);

interface ConnBench { n: number; errors: number; p50us: number; p99us: number }
interface PingPong { ok: boolean; iterations: number; p50us: number; p99us: number }

function vip(prefix: string, i: number): string {
  return `${prefix}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** kube-proxy iptables layout for n services; the measured one (index n-1) comes last. */
function iptablesRules(n: number, backend: string): string {
  const lines = ['*nat', ':OUTPUT ACCEPT [0:0]', ':KUBE-SERVICES - [0:0]'];
  for (let i = 0; i < n; i++) lines.push(`:KUBE-SVC-${i} - [0:0]`);
  lines.push('-A OUTPUT -j KUBE-SERVICES');
  for (let i = 0; i < n; i++) lines.push(`-A KUBE-SERVICES -d ${vip('10.97', i)}/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-${i}`);
  for (let i = 0; i < n; i++) lines.push(`-A KUBE-SVC-${i} -p tcp -j DNAT --to-destination ${backend}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

const f = (x: number): string => x.toFixed(1);

export async function run(log: (line: string) => void): Promise<void> {
  const missing = missingPrivilege({ bpf: true, cgroup: true, netns: true });
  if (missing) {
    log(`datapath bench NOT RUN: ${missing} (run as root: sudo npm run bench -- datapath)`);
    return;
  }
  const net = PodNetwork.create();
  let dp: Datapath | null = null;
  try {
    net.addPod('lb', 1);
    const ipt = net.addPod('ipt', 2);
    const be = net.addPod('be', 3);
    net.addPod('hop', 4);
    dp = Datapath.start({
      log: pino({ level: 'silent' }),
      cgroupDir: net.cgroupParent,
      pinName: `tendril-ci-${net.id}`,
      pinFallbackParent: PRIVATE_BPFFS_PARENT,
      features: { sockmap: false, redirect: false },
    });
    const d = dp;
    net.onTeardown(() => d.close());
    await startTool(net, 'be', ['serve-tcp', be.ip, '8080', 'be']);
    const backend = `${be.ip}:8080`;

    const lb: Record<number, ConnBench> = {};
    const ip: Record<number, ConnBench> = {};
    let installed = 0;
    for (const n of COUNTS) {
      // socket-LB: grow the table to n services (incrementally), measure the last one.
      const t0 = performance.now();
      for (; installed < n; installed++) {
        d.services.upsert({ vip: vip('10.96', installed), port: 80, protocol: 'TCP', backends: [{ ip: be.ip, port: 8080 }] });
      }
      const syncMs = performance.now() - t0;
      [lb[n]] = await runTool<ConnBench>(net, 'lb', ['connectbench', vip('10.96', n - 1), '80', String(CONNECTS)], 90_000);
      // iptables: replace the pod's nat table with n services, measure the last one.
      const t1 = performance.now();
      sh('nsenter', [`--net=${ipt.nsPath}`, 'iptables-restore'], { input: iptablesRules(n, backend) });
      const iptMs = performance.now() - t1;
      [ip[n]] = await runTool<ConnBench>(net, 'ipt', ['connectbench', vip('10.97', n - 1), '80', String(CONNECTS)], 90_000);
      log(
        `services=${String(n).padStart(5)}  socket-lb p50 ${f(lb[n]!.p50us)} us p99 ${f(lb[n]!.p99us)} us (errors ${lb[n]!.errors}, map sync ${f(syncMs)} ms)` +
          `  |  iptables p50 ${f(ip[n]!.p50us)} us p99 ${f(ip[n]!.p99us)} us (errors ${ip[n]!.errors}, restore ${f(iptMs)} ms)` +
          `  |  socket-lb/iptables p50 ${(lb[n]!.p50us / ip[n]!.p50us).toFixed(2)}`,
      );
    }

    // app <-> proxy hop, 64-byte ping-pong in one pod, fast path off then on.
    d.setFeatures({ sockmap: false, redirect: false });
    const [without] = await runTool<PingPong>(net, 'hop', ['pingpong', '127.0.0.1', String(HOPS), '64'], 90_000);
    d.setFeatures({ sockmap: true, redirect: false });
    const [withMap] = await runTool<PingPong>(net, 'hop', ['pingpong', '127.0.0.1', String(HOPS), '64'], 90_000);
    log(`hop 64 B x ${HOPS}: sockmap p50 ${f(withMap!.p50us)} us p99 ${f(withMap!.p99us)} us (byte-exact ${withMap!.ok}); ` +
      `plain TCP p50 ${f(without!.p50us)} us p99 ${f(without!.p99us)} us (byte-exact ${without!.ok}); ratio ${(withMap!.p50us / without!.p50us).toFixed(2)}`);
    const first = COUNTS[0]!;
    const last = COUNTS[COUNTS.length - 1]!;
    log(`socket-lb p50 ratio ${last}/${first} services: ${(lb[last]!.p50us / lb[first]!.p50us).toFixed(2)} (iptables: ${(ip[last]!.p50us / ip[first]!.p50us).toFixed(2)})`);
    log(`sockmap hop p50: ${f(withMap!.p50us)} us with, ${f(without!.p50us)} us without`);
  } finally {
    const problems = net.teardown();
    if (problems.length) log(`datapath bench teardown problems: ${problems.join('; ')}`);
    void POD_TOOL;
  }
}
