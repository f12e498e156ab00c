/**
 * `npm run bench -- wireguard`: pod-to-pod across two network-namespace nodes, through the
 * WireGuard tunnel (wireguard-go, configured by WireGuardManager) against the same path on plain
 * veths and an underlay router, in one run, alternating (veth, tunnel, veth, tunnel) so drift hits
 * both. Throughput: one TCP stream of BYTES per round (far larger than any cache). Latency: 64-byte
 * TCP ping-pong, median and p99. Ends with `wireguard throughput ratio tunnel/veth: X`.
 *
 * Not covered: the in-kernel WireGuard module (absent here), several parallel flows, CPU cost per
 * byte, IPv6, MTU/fragmentation effects, handshake cost at scale.
 */
import pino from 'pino';
import { WireGuardManager, type NodeInfo } from '../wireguard/index.js';
import { WgCluster } from '../test/helpers/wg-cluster.js';
import { collect, waitForLine } from '../test/helpers/pod.js';
import { sh } from '../test/helpers/netns.js';
import { missingPrivilege } from '../test/helpers/privileged.js';
import { findOnPath } from '../wireguard/support.js';

const TRAFFIC = new URL('../test/privileged/fixtures/wg-traffic.mjs', import.meta.url).pathname;
const BYTES = Number(process.env.TENDRIL_BENCH_WG_BYTES ?? 64_000_000);
const PINGS = Number(process.env.TENDRIL_BENCH_WG_PINGS ?? 5000);
const ROUNDS = 3;

export async function run(log: (line: string) => void): Promise<void> {
  const missing = missingPrivilege({ netns: true }) ?? (findOnPath('wireguard-go') ? null : 'wireguard-go is not installed');
  if (missing) {
    log(`wireguard bench NOT RUN: ${missing} (run as root: sudo npm run bench -- wireguard)`);
    return;
  }
  const cluster = new WgCluster();
  const managers: WireGuardManager[] = [];
  try {
    const n1 = cluster.addNode(1);
    const n2 = cluster.addNode(2);
    // Plain path: the underlay router knows both pod CIDRs.
    sh('ip', ['-n', cluster.ulNs, 'route', 'add', n1.podCIDR, 'via', n1.address]);
    sh('ip', ['-n', cluster.ulNs, 'route', 'add', n2.podCIDR, 'via', n2.address]);
    for (const n of [n1, n2]) {
      const m = new WireGuardManager({ nodeName: n.name, ifname: n.wgIf, listenPort: 51871, stateDir: n.stateDir, netnsPath: n.nsPath, log: pino({ level: 'silent' }) });
      await m.start();
      managers.push(m);
    }
    const nodes: NodeInfo[] = [n1, n2].map((n, i) => ({ name: n.name, address: n.address, podCIDRs: [n.podCIDR], publicKey: managers[i]!.publicKey }));
    const srv = cluster.spawnIn(n2.podNsPath, process.execPath, [TRAFFIC, 'server', n2.podIp, '7000']);
    await waitForLine(srv, /listening/);
    const tunnel = async (on: boolean): Promise<void> => {
      for (const m of managers) await m.setNodes(on ? nodes : []);
    };
    const measure = async (): Promise<{ mbit: number; medianUs: number; p99Us: number }> => {
      const warm = await collect(cluster.spawnIn(n1.podNsPath, process.execPath, [TRAFFIC, 'send', n2.podIp, '7000', '100000', 'w', '0']), 30_000);
      if (warm.code !== 0) throw new Error(`warm-up failed: ${warm.stderr}`);
      const t = await collect(cluster.spawnIn(n1.podNsPath, process.execPath, [TRAFFIC, 'send', n2.podIp, '7000', String(BYTES), 'bench', '0']), 600_000);
      if (t.code !== 0) throw new Error(`transfer failed: ${t.stderr}`);
      const { ms } = JSON.parse(t.stdout) as { ms: number };
      const e = await collect(cluster.spawnIn(n1.podNsPath, process.execPath, [TRAFFIC, 'echo', n2.podIp, '7000', String(PINGS)]), 600_000);
      if (e.code !== 0) throw new Error(`ping-pong failed: ${e.stderr}`);
      const lat = JSON.parse(e.stdout) as { medianUs: number; p99Us: number };
      return { mbit: (BYTES * 8) / (ms / 1000) / 1e6, ...lat };
    };
    const veth: Array<Awaited<ReturnType<typeof measure>>> = [];
    const wg: Array<Awaited<ReturnType<typeof measure>>> = [];
    log(`pod-to-pod across two netns nodes; ${BYTES / 1e6} MB per transfer, ${PINGS} ping-pongs of 64 B; ${ROUNDS} alternating rounds (shared 2-vCPU machine: noisy)`);
    for (let r = 0; r < ROUNDS; r++) {
      await tunnel(false);
      const v = await measure();
      veth.push(v);
      log(`round ${r + 1} veth:   ${v.mbit.toFixed(0)} Mbit/s, ping-pong median ${v.medianUs.toFixed(0)} µs, p99 ${v.p99Us.toFixed(0)} µs`);
      await tunnel(true);
      const w = await measure();
      wg.push(w);
      log(`round ${r + 1} tunnel: ${w.mbit.toFixed(0)} Mbit/s, ping-pong median ${w.medianUs.toFixed(0)} µs, p99 ${w.p99Us.toFixed(0)} µs`);
    }
    const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const vT = mid(veth.map((x) => x.mbit));
    const wT = mid(wg.map((x) => x.mbit));
    const vL = mid(veth.map((x) => x.medianUs));
    const wL = mid(wg.map((x) => x.medianUs));
    await tunnel(true);
    const hs = (await managers[0]!.refreshNow()).peers[0];
    log(`tunnel peer as node1's device reports it: handshake ${hs?.lastHandshake ?? 'none'}, tx ${hs?.txBytes ?? 0} B, rx ${hs?.rxBytes ?? 0} B`);
    log(`throughput (median of ${ROUNDS}): veth ${vT.toFixed(0)} Mbit/s, tunnel ${wT.toFixed(0)} Mbit/s`);
    log(`latency (median ping-pong, median of ${ROUNDS}): veth ${vL.toFixed(0)} µs, tunnel ${wL.toFixed(0)} µs, added ${(wL - vL).toFixed(0)} µs (x${(wL / vL).toFixed(2)})`);
    log(`wireguard throughput ratio tunnel/veth: ${(wT / vT).toFixed(3)}`);
    srv.kill();
  } finally {
    for (const m of managers) await m.stop().catch(() => undefined);
    const problems = await cluster.teardown();
    if (problems.length) log(`wireguard bench teardown problems: ${problems.join('; ')}`);
  }
}
