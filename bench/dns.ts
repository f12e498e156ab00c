/**
 * `npm run bench -- dns`: DNS queries/s and latency through the DNS proxy against unbound direct,
 * both driven by dnsperf (Debian) in the same run, same query file, same duration and same
 * concurrency. The proxy runs in this process with policy enforcement (a matchPattern rule) and
 * learning (every answer goes into the FQDN cache, which swaps the policy snapshot when it grows).
 * Working set: NAMES distinct names (unbound answers from local data, so neither side caches
 * answers; the proxy has no answer cache). Not covered: TCP, denied queries (answered locally,
 * cheaper than forwarding), the datapath redirect, and numbers on an idle machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { createEngine, parsePolicyText, worldFromObject } from '../policy/index.js';
import type { PolicyEngine } from '../policy/api.js';
import { NULL_SINK } from '../observe/index.js';
import { DnsProxy, ExplicitDnsSource, FqdnCache } from '../proxy/index.js';
import { startUnbound } from '../test/helpers/dns-servers.js';

const run = promisify(execFile);
const NAMES = 2000;
const SECONDS = Number(process.env.TENDRIL_BENCH_DNS_SECONDS ?? 8);
const CLIENT = '127.0.173.10';
const SERVER = '127.0.173.53';

interface PerfResult {
  qps: number;
  avgLatencyMs: number;
  completed: string;
}

async function dnsperf(server: string, port: number, file: string): Promise<PerfResult> {
  const { stdout } = await run('dnsperf', ['-s', server, '-p', String(port), '-a', CLIENT, '-d', file, '-l', String(SECONDS), '-c', '4', '-q', '64', '-t', '3'], { maxBuffer: 1 << 22 });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1]);
  const lat = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(stdout)?.[1]);
  const completed = /Queries completed:\s+(.*)/.exec(stdout)?.[1] ?? '?';
  if (!Number.isFinite(qps) || !Number.isFinite(lat)) throw new Error(`dnsperf output not understood:\n${stdout}`);
  return { qps, avgLatencyMs: lat * 1000, completed };
}

export async function run_(log: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-dns-'));
  const zone = ['    local-zone: "bench.example." static', ...Array.from({ length: NAMES }, (_, i) => `    local-data: "h${i}.bench.example. 300 IN A 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}"`)].join('\n');
  const unbound = await startUnbound(SERVER, 5353, zone);
  let proxy: DnsProxy | null = null;
  try {
    const queries = join(dir, 'queries.txt');
    writeFileSync(queries, Array.from({ length: NAMES }, (_, i) => `h${i}.bench.example A`).join('\n') + '\n');
    const world = worldFromObject({
      namespaces: [{ name: 'bench' }, { name: 'kube-system' }],
      endpoints: [
        { name: 'client-0', namespace: 'bench', labels: { app: 'client' }, ips: [CLIENT] },
        { name: 'coredns-0', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ips: [SERVER] },
      ],
    });
    const policies = parsePolicyText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress, namespace: bench}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: UDP}]
      rules: {dns: [{matchPattern: "*.bench.example"}]}
  - toFQDNs: [{matchPattern: "*.bench.example"}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
`,
      'bench-dns.yaml',
    );
    let engine: PolicyEngine = createEngine({ policies, world });
    const cache = new FqdnCache();
    cache.onChange((names) => {
      engine = engine.withLearnedFqdns!(names);
    });
    proxy = new DnsProxy({
      listen: { host: '127.0.173.1', port: 0 },
      source: new ExplicitDnsSource({ destinationEndpoint: 'kube-system/coredns-0', destinationPort: 53, upstream: { host: SERVER, port: 5353 } }, (ip) => engine.endpointByIp(ip)),
      engine: () => engine,
      log: pino({ level: 'silent' }),
      flows: NULL_SINK,
      describe: () => ({ labels: [] }),
      cache,
    });
    await proxy.start();
    log(`dnsperf -c 4 -q 64 -l ${SECONDS}, ${NAMES} distinct names (A), UDP, client ${CLIENT}; unbound 1 thread on ${SERVER}`);
    const direct = await dnsperf(SERVER, 5353, queries);
    log(`direct  (unbound):         ${direct.qps.toFixed(0)} q/s, avg latency ${direct.avgLatencyMs.toFixed(3)} ms, completed ${direct.completed}`);
    const cpu0 = process.cpuUsage();
    const q0 = proxy.stats.queries;
    const via = await dnsperf(proxy.address.host, proxy.address.port, queries);
    const cpu = process.cpuUsage(cpu0);
    const perQueryUs = (cpu.user + cpu.system) / Math.max(1, proxy.stats.queries - q0);
    log(`proxy   (tendril -> unbound): ${via.qps.toFixed(0)} q/s, avg latency ${via.avgLatencyMs.toFixed(3)} ms, completed ${via.completed}`);
    log(`proxy CPU per query: ${perQueryUs.toFixed(1)} us (user+system of this process; one core saturates at ${(1e6 / perQueryUs).toFixed(0)} q/s)`);
    log(`learned names: ${cache.names().size}; proxy stats ${JSON.stringify(proxy.stats)}`);
    log(`dns added latency: ${(via.avgLatencyMs - direct.avgLatencyMs).toFixed(3)} ms`);
    log(`dns qps ratio proxy/direct: ${(via.qps / direct.qps).toFixed(2)}`);
    log('not covered: TCP, denied queries, the datapath redirect; measured on a shared machine');
  } finally {
    await proxy?.close();
    await unbound.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export { run_ as run };
