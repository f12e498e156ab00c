/**
 * L7 proxy benchmark: the same workload (wrk, GET /api/v1/payments/123 allowed by the seed's
 * payment-service-l7 policy; GET /admin denied) direct to the upstream (nginx), through
 * `tendril proxy`, and through HAProxy (Debian, nbthread 1, equivalent ACLs), in one run. Reports
 * per target, allowed and denied, at 1 and 64 connections: req/s, requests per proxy CPU-second
 * (from /proc), p50/p99 and the latency added over direct; the `proxy cpu ratio vs haproxy`
 * lines; RSS per idle keep-alive connection. A non-2xx answer to an allowed request (or a non-403
 * to a denied one) fails the run. Targets (docs/proxy.md): allowed >= 0.5x HAProxy's requests per
 * CPU-second, denied >= 0.7x.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitForPort } from '../test/helpers/servers.js';

const exec = promisify(execFile);
const HOST = '127.0.120';
const DURATION_S = Number(process.env.TENDRIL_BENCH_SECONDS ?? '5');
const PATH = '/api/v1/payments/123';
/** Denied by the seed policy (and by the HAProxy ACLs): answered 403 by the proxy itself. */
const DENIED_PATH = '/admin';
const IDLE_CONNS = Number(process.env.TENDRIL_BENCH_IDLE_CONNS ?? '10000');
const TICKS = 100; // USER_HZ on Linux

interface Target {
  name: 'direct' | 'tendril' | 'haproxy';
  url: string;
  /** Process whose CPU is charged to the proxy (null for direct). */
  pid: number | null;
}

interface Result {
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  requests: number;
  /** CPU seconds of the proxy process per 10k requests. */
  cpuPer10k: number | null;
  /** CPU seconds of the upstream (nginx) per 10k requests. */
  upstreamCpuPer10k: number;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime + stime
}

function ms(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}


function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 'NaN');
}

/** Opens `n` connections, completes one keep-alive request on each, and leaves them open. */
async function openIdle(url: string, n: number): Promise<net.Socket[]> {
  const u = new URL(url);
  const out: net.Socket[] = [];
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port) });
      out.push(s);
      s.on('error', reject);
      s.once('connect', () => s.write(`GET ${PATH} HTTP/1.1\r\nHost: payment-service:8080\r\n\r\n`));
      let text = '';
      const onData = (d: Buffer): void => {
        text += d.toString('latin1');
        if (/\r\n\r\n[\s\S]*payment 123\n$/.test(text)) {
          s.off('data', onData);
          resolve();
        }
      };
      s.on('data', onData);
    });
  for (let i = 0; i < n; i += 250) await Promise.all(Array.from({ length: Math.min(250, n - i) }, one));
  return out;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function ensureHaproxy(log: (l: string) => void): void {
  if (spawnSync('haproxy', ['-v']).status === 0) return;
  log('haproxy missing: apt-get install -y haproxy');
  const r = spawnSync('apt-get', ['install', '-y', 'haproxy'], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error('bench: haproxy is not installed and apt-get install failed');
}

async function wrk(url: string, connections: number, seconds: number, path: string): Promise<Omit<Result, 'cpuPer10k' | 'upstreamCpuPer10k'>> {
  const { stdout } = await exec('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', 'Host: payment-service:8080', `${url}${path}`], { timeout: (seconds + 20) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 'NaN');
  const p50 = ms(/\s50%\s+(\S+)/.exec(stdout)?.[1] ?? '');
  const p99 = ms(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? '0');
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? '0');
  return { rps, p50ms: p50, p99ms: p99, requests, non2xx };
}

export async function run(log: (line: string) => void): Promise<void> {
  ensureHaproxy(log);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-proxy-'));
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[]): ChildProcess => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TENDRIL_FROM_SOURCE: process.env.TENDRIL_FROM_SOURCE ?? '0' } });
    c.stderr!.resume();
    children.push(c);
    return c;
  };
  try {
    // Upstream: nginx, one worker, fixed 200 answer.
    const upPort = await freePort(`${HOST}.10`);
    for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log crit;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path ${dir}/tmp/b; proxy_temp_path ${dir}/tmp/p; fastcgi_temp_path ${dir}/tmp/f; uwsgi_temp_path ${dir}/tmp/u; scgi_temp_path ${dir}/tmp/s;
  server { listen ${HOST}.10:${upPort}; location / { default_type text/plain; return 200 "payment 123\\n"; } } }
`,
    );
    const nginx = start('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')]);
    await waitForPort(`${HOST}.10`, upPort);

    // Tendril: the seed policy; wrk connects from 127.0.0.1, which this world gives to checkout.
    mkdirSync(join(dir, 'policies'));
    copyFileSync(new URL('../config/examples/seed/02-payment-service-l7.cnp.yaml', import.meta.url).pathname, join(dir, 'policies', 'l7.yaml'));
    writeFileSync(
      join(dir, 'world.yaml'),
      `endpoints:\n  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [${HOST}.10]}\n  - {name: checkout-service-0, namespace: checkout, labels: {app: checkout-service}, ips: [127.0.0.1]}\n`,
    );
    const tPort = await freePort(`${HOST}.1`);
    const tendril = start(process.execPath, [
      new URL('../bin/tendril.js', import.meta.url).pathname, 'proxy',
      '--policies', join(dir, 'policies'), '--world', join(dir, 'world.yaml'),
      '--listen', `${HOST}.1:${tPort}`, '--destination', 'payments/payment-service-0:8080', '--upstream', `${HOST}.10:${upPort}`,
    ]);
    await waitForPort(`${HOST}.1`, tPort, 30_000);

    // HAProxy with the same decisions: source checkout, GET /api/v1/payments/.* or POST /api/v1/payments.
    const hPort = await freePort(`${HOST}.2`);
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
  nbthread 1
  maxconn 9500
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse safe
frontend fe
  bind ${HOST}.2:${hPort}
  acl from_checkout src 127.0.0.1
  acl get_payment method GET
  acl get_payment_path path_reg ^/api/v1/payments/.*$
  acl post_payment method POST
  acl post_payment_path path_reg ^/api/v1/payments$
  http-request deny deny_status 403 unless from_checkout get_payment get_payment_path or from_checkout post_payment post_payment_path
  default_backend be
backend be
  server s1 ${HOST}.10:${upPort}
`,
    );
    const haproxy = start('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
    await waitForPort(`${HOST}.2`, hPort);

    const targets: Target[] = [
      { name: 'direct', url: `http://${HOST}.10:${upPort}`, pid: null },
      { name: 'tendril', url: `http://${HOST}.1:${tPort}`, pid: tendril.pid! },
      { name: 'haproxy', url: `http://${HOST}.2:${hPort}`, pid: haproxy.pid! },
    ];
    // Sanity: the policy is really enforced by both proxies.
    for (const tg of targets.slice(1)) {
      const denied = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'DELETE', `${tg.url}${PATH}`]);
      if (denied.stdout !== '403') throw new Error(`bench: ${tg.name} did not deny DELETE (got ${denied.stdout})`);
    }

    const label = (n: Target['name']): string => (n === 'tendril' ? 'tendril (1 worker)' : n === 'haproxy' ? 'haproxy (1 thread)' : n);
    const results = new Map<string, Result>();
    const failures: string[] = [];
    for (const kind of ['allowed', 'denied'] as const) {
      for (const conns of [1, 64]) {
        for (const tg of targets) {
          if (kind === 'denied' && tg.pid === null) continue; // nothing denies on the direct path
          const path = kind === 'allowed' ? PATH : DENIED_PATH;
          await wrk(tg.url, conns, 1, path); // warm-up (JIT, pools)
          const cpu0 = tg.pid ? cpuSeconds(tg.pid) : 0;
          const up0 = cpuSeconds(nginx.pid!);
          const r = await wrk(tg.url, conns, DURATION_S, path);
          const cpu = tg.pid ? cpuSeconds(tg.pid) - cpu0 : null;
          const upCpu = cpuSeconds(nginx.pid!) - up0;
          const res: Result = {
            ...r,
            cpuPer10k: cpu === null ? null : (cpu / r.requests) * 10_000,
            upstreamCpuPer10k: (upCpu / r.requests) * 10_000,
          };
          results.set(`${kind}/${tg.name}/${conns}`, res);
          const d = results.get(`allowed/direct/${conns}`)!;
          const perCpu = res.cpuPer10k === null ? '      -' : (10_000 / res.cpuPer10k).toFixed(0).padStart(7);
          const added = tg.pid === null ? '' : `  added p50 ${(res.p50ms - d.p50ms).toFixed(3)} ms  added p99 ${(res.p99ms - d.p99ms).toFixed(3)} ms`;
          log(
            `${kind.padEnd(7)} ${label(tg.name).padEnd(18)} c=${String(conns).padStart(2)}  ${res.rps.toFixed(0).padStart(7)} req/s  ${perCpu} req per CPU-s  p50 ${res.p50ms.toFixed(3)} ms  p99 ${res.p99ms.toFixed(3)} ms${added}` +
              (res.non2xx ? `  NON-2XX ${res.non2xx}` : ''),
          );
          if (kind === 'allowed' && res.non2xx > 0) failures.push(`${tg.name} c=${conns}: ${res.non2xx} non-2xx answers to allowed requests`);
          if (kind === 'denied' && res.non2xx !== res.requests) failures.push(`${tg.name} c=${conns}: ${res.requests - res.non2xx} denied requests were not answered 403`);
        }
      }
    }
    log('tendril (all workers): not measured — the proxy runs one worker (proxy.workers is not built)');
    const perCpu = (r: Result): number => 10_000 / (r.cpuPer10k ?? NaN); // requests per CPU-second
    for (const kind of ['allowed', 'denied'] as const) {
      for (const conns of [1, 64]) {
        const tr = results.get(`${kind}/tendril/${conns}`)!;
        const hp = results.get(`${kind}/haproxy/${conns}`)!;
        log(
          `${kind} c=${conns}: req/s ${(tr.rps / hp.rps).toFixed(2)}x haproxy; req per proxy CPU-second tendril ${perCpu(tr).toFixed(0)}, haproxy ${perCpu(hp).toFixed(0)} => ${(perCpu(tr) / perCpu(hp)).toFixed(2)}x; ` +
            `p99 tendril ${tr.p99ms.toFixed(3)} ms vs haproxy ${hp.p99ms.toFixed(3)} ms (${(tr.p99ms / hp.p99ms).toFixed(2)}x)`,
        );
      }
    }
    const ratio = (kind: string): number => perCpu(results.get(`${kind}/tendril/64`)!) / perCpu(results.get(`${kind}/haproxy/64`)!);
    log(`proxy cpu ratio vs haproxy (allowed, c64): ${ratio('allowed').toFixed(2)}`);
    log(`proxy cpu ratio vs haproxy (denied, c64): ${ratio('denied').toFixed(2)}`);
    log(`targets: allowed >= 0.50: ${ratio('allowed') >= 0.5 ? 'MET' : 'NOT MET'}; denied >= 0.70: ${ratio('denied') >= 0.7 ? 'MET' : 'NOT MET'}`);

    // Memory per idle keep-alive connection: IDLE_CONNS clients each complete one request and stay open.
    for (const tg of targets.slice(1)) {
      // HAProxy's maxconn (fd limit 20000 here) holds 9,000 at most.
      const n = tg.name === 'haproxy' ? Math.min(IDLE_CONNS, 9000) : IDLE_CONNS;
      const before = rssKiB(tg.pid!);
      const sockets = await openIdle(tg.url, n);
      await new Promise((r) => setTimeout(r, 500));
      const after = rssKiB(tg.pid!);
      for (const s of sockets) s.destroy();
      log(`${label(tg.name)}: ${n} idle keep-alive connections: RSS ${before} -> ${after} KiB = ${((after - before) / n).toFixed(2)} KiB per idle connection`);
      await new Promise((r) => setTimeout(r, 500));
    }
    log('not covered: bodies (see test/proxy/bodies.test.ts), flows on (npm run bench -- observe), TLS; client, proxies and nginx share this machine\'s cores');
    if (failures.length > 0) throw new Error(`bench: ${failures.join('; ')}`);
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    }
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}
