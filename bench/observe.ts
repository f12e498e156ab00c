/**
 * Observability benchmarks, printed as ratios against baselines measured in the same run:
 * 1. emit cost per flow: null sink (baseline) vs ring buffer without / with a follower, Hubble
 *    metrics (seed list), the store sink, and the full fan-out createObservability builds;
 * 2. store write throughput (toRow + batched transaction with the pairs aggregate) vs a target;
 * 3. proxy throughput (wrk through the real L7 proxy with the seed policy) with the full
 *    observability (ring + seed metrics + store) on vs a null sink, alternating runs;
 * 4. the audit query `--namespace payments --since 7d --aggregate pairs` over N stored flows
 *    (TENDRIL_BENCH_STORE_FLOWS, default 10,000,000) vs the 1 s target, and the same answer by a
 *    full scan of the raw flows table over the 7 days as the baseline; both on a freshly opened
 *    store with default settings, cold (file evicted from the page cache) and warm;
 * 5. PostgreSQL (a server started here): StoreSink write rate vs SQLite's, and the same audit
 *    query and baseline over the same rows, cold (server restarted, files evicted) and warm.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import { randomUUID } from 'node:crypto';
import { buildHttpFlow, FanoutSink, NULL_SINK, formatFlowTime, newFlow, nowNs, outcomeFromVerdict, type Flow, type FlowSink, type HttpFlowConn, type HttpFlowRecord } from '../observe/index.js';
import { createObservability, FlowMetrics, FlowRing, FlowStore, PgFlowStore, StoreSink, type FlowRow, type PairAggregate, type StoreQuery } from '../observe/consumers/index.js';
import { postgresBinDir, startPostgres } from '../test/helpers/postgres.js';
import { dropPageCache } from './_page-cache.js';

const SEED = ['dns:query;ignoreAAAA', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http'];
const HOUR_MS = 3_600_000;

function sampleFlows(n: number): Flow[] {
  const out: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const reply = i % 2 === 1;
    const src = { ID: 11, identity: 61000 + (i % 7), namespace: 'shop', pod_name: `checkout-${i % 7}`, labels: ['k8s:app=checkout'] };
    const dst = { ID: 12, identity: 62000, namespace: 'payments', pod_name: 'payment-service', labels: ['k8s:app=payment-service'] };
    out.push(newFlow({
      verdict: i % 10 === 0 ? 'DROPPED' : 'FORWARDED',
      drop_reason_desc: i % 10 === 0 ? 'POLICY_DENIED' : undefined,
      IP: { source: '127.0.0.11', destination: '127.0.0.12', ipVersion: 'IPv4' },
      l4: { TCP: reply ? { source_port: 8080, destination_port: 40000 + (i % 1000) } : { source_port: 40000 + (i % 1000), destination_port: 8080 } },
      source: reply ? dst : src,
      destination: reply ? src : dst,
      is_reply: reply,
      traffic_direction: 'INGRESS',
      node_name: 'bench',
      l7: reply
        ? { type: 'RESPONSE', latency_ns: 1_000_000 * (i % 50), http: { code: 200, method: 'GET', url: `http://payment-service/api/v1/payments/P${i % 100}`, protocol: 'HTTP/1.1' } }
        : { type: 'REQUEST', http: { code: 0, method: 'GET', url: `http://payment-service/api/v1/payments/P${i % 100}`, protocol: 'HTTP/1.1' } },
    }));
  }
  return out;
}

/** ns per emit over `iterations` flows (pool reused), best of 3 runs. */
function emitCost(sink: FlowSink, pool: Flow[], iterations: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink.emit(pool[i % pool.length]!);
    const ns = Number(process.hrtime.bigint() - t0) / iterations;
    best = Math.min(best, ns);
  }
  return best;
}

const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function benchEmit(log: (l: string) => void, dir: string): Promise<void> {
  const pool = sampleFlows(4096);
  const N = 1_000_000;
  const base = emitCost(NULL_SINK, pool, N);
  const ring = new FlowRing(4096);
  const ringNs = emitCost(ring, pool, N);
  const unsubscribe = ring.onWrite(() => {
    /* a follower that reads lazily: wake-ups are batched per tick */
  });
  const ringFollowedNs = emitCost(ring, pool, N);
  unsubscribe();
  const metrics = new FlowMetrics(SEED, ring);
  const metricsNs = emitCost(metrics, pool, N / 10);
  const storeSink = new StoreSink({ path: join(dir, 'emit.db'), retentionMs: 30 * 24 * HOUR_MS, maxPending: 10_000_000, batchSize: 10_000_000, flushIntervalMs: 3_600_000 }, pino({ level: 'silent' }));
  await storeSink.start();
  const storeEmitNs = emitCost(storeSink, pool, N / 10);
  await storeSink.stop();
  const all = new FanoutSink([new FlowRing(4096), metrics]);
  const allNs = emitCost(all, pool, N / 10);
  log('emit cost per flow (lower is better; best of 3):');
  log(`  null sink (baseline)               ${fmt(base, 1)} ns/flow`);
  log(`  ring buffer, nobody listening      ${fmt(ringNs, 1)} ns/flow  = ${fmt(ringNs / base, 2)}x baseline, ${fmt(1e9 / ringNs)} flows/s`);
  log(`  ring buffer, one follower          ${fmt(ringFollowedNs, 1)} ns/flow  = ${fmt(ringFollowedNs / ringNs, 2)}x ring without listener`);
  log(`  hubble metrics (seed list)         ${fmt(metricsNs, 0)} ns/flow  = ${fmt(1e9 / metricsNs)} flows/s`);
  log(`  store sink (enqueue only)          ${fmt(storeEmitNs, 1)} ns/flow  = ${fmt(storeEmitNs / ringNs, 2)}x ring`);
  log(`  ring + metrics fan-out             ${fmt(allNs, 0)} ns/flow  = ${fmt(1e9 / allNs)} flows/s`);
}

/**
 * What retaining flows costs the garbage collector: a loop standing for proxied requests (some
 * short-lived garbage + a request and a response flow each) emitting into a 1-flow ring
 * (baseline: flows die young) vs the default 4,096-flow ring.
 */
function benchRetention(log: (l: string) => void): void {
  const src = { namespace: 'checkout', pod_name: 'checkout-service-0', labels: ['k8s:app=checkout-service'] };
  const dst = { namespace: 'payments', pod_name: 'payment-service-0', labels: ['k8s:app=payment-service'] };
  const perRequest = (ring: FlowRing, n: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const garbage: unknown[] = [];
      for (let k = 0; k < 60; k++) garbage.push({ k, v: `header-${k}-${i}` });
      const url = `http://payment-service/api/v1/payments/P${i}`;
      ring.emit(newFlow({ IP: { source: '127.0.0.11', destination: '127.0.0.12', ipVersion: 'IPv4' }, l4: { TCP: { source_port: i & 65535, destination_port: 8080 } }, source: src, destination: dst, is_reply: false, traffic_direction: 'INGRESS', verdict: 'FORWARDED', l7: { type: 'REQUEST', http: { code: 0, method: 'GET', url, protocol: 'HTTP/1.1' } } }));
      ring.emit(newFlow({ IP: { source: '127.0.0.12', destination: '127.0.0.11', ipVersion: 'IPv4' }, l4: { TCP: { source_port: 8080, destination_port: i & 65535 } }, source: dst, destination: src, is_reply: true, traffic_direction: 'INGRESS', verdict: 'FORWARDED', l7: { type: 'RESPONSE', latency_ns: 1e6, http: { code: 200, method: 'GET', url, protocol: 'HTTP/1.1' } } }));
    }
    return ((performance.now() - t0) * 1000) / n;
  };
  const N = 200_000;
  const small: number[] = [];
  const full: number[] = [];
  for (let r = 0; r < 2; r++) {
    small.push(perRequest(new FlowRing(1), N));
    full.push(perRequest(new FlowRing(4096), N));
  }
  const a = Math.min(...small);
  const b = Math.min(...full);
  log(`flow retention (simulated requests, 2 flows each): 1-flow ring ${fmt(a, 2)} us/request, 4,096-flow ring ${fmt(b, 2)} us/request = ${fmt(b / a, 2)}x (+${fmt(b - a, 2)} us/request of GC work)`);
}

async function benchStoreWrite(log: (l: string) => void, dir: string): Promise<void> {
  const pool = sampleFlows(4096);
  const path = join(dir, 'write.db');
  const sink = new StoreSink({ path, retentionMs: 30 * 24 * HOUR_MS, maxPending: 1_000_000, batchSize: 5000, flushIntervalMs: 3_600_000 }, pino({ level: 'silent' }));
  await sink.start();
  const N = 100_000;
  const t0 = performance.now();
  let mainMs = 0;
  for (let i = 0; i < N; i += 5000) {
    const m0 = performance.now();
    for (let j = i; j < i + 5000; j++) sink.emit(pool[j % pool.length]!);
    const done = sink.flush();
    mainMs += performance.now() - m0;
    await done;
  }
  const s = (performance.now() - t0) / 1000;
  await sink.stop();
  const store = new FlowStore(path);
  const stored = store.count();
  store.close();
  if (stored !== N) throw new Error(`BUG: stored ${stored} of ${N} flows`);
  const target = 20_000;
  log(`store writes (writer thread: toRow + batched txn + pairs upsert): ${fmt(N / s)} flows/s = ${fmt(N / s / target, 1)}x the 20,000 flows/s target`);
  log(`  event-loop time per stored flow (enqueue + hand-off to the writer): ${fmt((mainMs * 1e6) / N, 0)} ns`);
  const recMs = await storeRecordPath(join(dir, 'write-records.db'), N);
  log(`  the proxy's flows (HttpFlowRecord fast path, emitHttp): ${fmt((recMs * 1e6) / N, 0)} ns = ${fmt(recMs / mainMs, 2)}x the generic path`);
}

/** Event-loop ms to store `n` proxy-shaped flows handed over as HttpFlowRecords (emitHttp). */
async function storeRecordPath(path: string, n: number): Promise<number> {
  const sink = new StoreSink({ path, retentionMs: 30 * 24 * HOUR_MS, maxPending: 1_000_000, batchSize: 5000, flushIntervalMs: 3_600_000 }, pino({ level: 'silent' }));
  await sink.start();
  const conn: HttpFlowConn = {
    srcIp: '127.0.0.11', srcPort: 40000, dstIp: '127.0.0.12', dstPort: 8080,
    source: { ID: 11, identity: 61000, namespace: 'shop', pod_name: 'checkout-0', labels: ['k8s:app=checkout'] },
    destination: { ID: 12, identity: 62000, namespace: 'payments', pod_name: 'payment-service', labels: ['k8s:app=payment-service'] },
    nodeName: 'bench', proxyPort: 15001, direction: 'INGRESS',
  };
  const outcome = outcomeFromVerdict({ allowed: true, authRequired: false, l7: 'http', reason: 'allowed by payments/allow', policy: 'payments/allow', rule: 'ingress[0]' });
  // Built before the clock starts, as the generic path's flows are.
  const recs: HttpFlowRecord[] = [];
  for (let j = 0; j < n; j++) {
    recs.push({ conn, kind: j % 2 === 0 ? 0 : 2, time: formatFlowTime(nowNs()), uuid: randomUUID(), method: 'GET', url: `http://payment-service/api/v1/payments/P${j % 100}`, protocol: 'HTTP/1.1', outcome, code: 200, latencyNs: 1_000_000, verdict: 'FORWARDED', reason: '', authFailed: false });
  }
  const flows = recs.map(buildHttpFlow);
  let mainMs = 0;
  for (let i = 0; i < n; i += 5000) {
    const m0 = performance.now();
    for (let j = i; j < i + 5000; j++) sink.emitHttp(flows[j]!, recs[j]!);
    const done = sink.flush();
    mainMs += performance.now() - m0;
    await done;
  }
  await sink.stop();
  const store = new FlowStore(path);
  const stored = store.count();
  store.close();
  if (stored !== n) throw new Error(`BUG: stored ${stored} of ${n} record flows`);
  return mainMs;
}

/** `n` synthetic flow rows spread over 30 days between ~200 pods in 20 namespaces, in batches of 50,000. */
function* auditRows(n: number, endMs: number): Generator<FlowRow[]> {
  const namespaces = Array.from({ length: 20 }, (_, i) => (i === 0 ? 'payments' : `ns${i}`));
  const pods = namespaces.flatMap((ns) => Array.from({ length: 10 }, (_, j) => ({ ns, name: `${ns}/svc${j}` })));
  // Each pod talks to 5 fixed peers: ~1,000 distinct pairs, as in a real service graph.
  const peers = pods.map((_, i) => Array.from({ length: 5 }, (_, k) => pods[(i * 7 + k * 31 + 1) % pods.length]!));
  const span = 30 * 24 * HOUR_MS;
  const batch: FlowRow[] = [];
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const s = pods[seed % pods.length]!;
    const d = peers[seed % pods.length]![(seed >> 8) % 5]!;
    const tMs = endMs - span + Math.floor((i / n) * span);
    const verdict = (seed >> 4) % 20 === 0 ? 'DROPPED' : 'FORWARDED';
    const time = formatFlowTime(BigInt(tMs) * 1_000_000n);
    batch.push({
      timeUs: tMs * 1000,
      srcNs: s.ns,
      src: s.name,
      dstNs: d.ns,
      dst: d.name,
      dstPort: 8080,
      protocol: 'TCP',
      verdict,
      isReply: false,
      json: `{"time":"${time}","verdict":"${verdict}","Type":"L3_L4","node_name":"bench","event_type":{"type":4},"traffic_direction":"INGRESS","source":{"namespace":"${s.ns}","pod_name":"${s.name.slice(s.ns.length + 1)}"},"destination":{"namespace":"${d.ns}","pod_name":"${d.name.slice(d.ns.length + 1)}"},"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"Summary":"TCP Flags: SYN"}`,
    });
    if (batch.length === 50_000) {
      yield batch.splice(0);
    }
  }
  if (batch.length > 0) yield batch;
}

function fillStore(store: FlowStore, n: number, endMs: number): void {
  for (const rows of auditRows(n, endMs)) store.insert(rows);
}

async function benchAudit(log: (l: string) => void, dir: string): Promise<void> {
  const n = Number(process.env.TENDRIL_BENCH_STORE_FLOWS ?? 10_000_000);
  const path = join(dir, 'audit.db');
  const store = new FlowStore(path);
  // Bulk generation only: no rollback journal and no fsync while filling (the query measured
  // below runs with the store's normal settings restored).
  store.db.pragma('journal_mode = OFF');
  store.db.pragma('synchronous = OFF');
  store.db.pragma('cache_size = -262144');
  const endMs = Date.now();
  const t0 = performance.now();
  fillStore(store, n, endMs);
  store.db.pragma('journal_mode = WAL');
  store.db.pragma('synchronous = NORMAL');
  const fillS = (performance.now() - t0) / 1000;
  const pairs = (store.db.prepare('SELECT count(*) AS c FROM pairs').get() as { c: number }).c;
  log(`audit store: ${fmt(n)} flows over 30 days generated in ${fmt(fillS, 1)} s (bulk load, ${fmt(n / fillS)} flows/s), ${fmt(pairs)} hourly pair rows, ${fmt(statSync(path).size / 1e9, 2)} GB`);
  store.close();
  const q = { sinceUs: (endMs - 7 * 24 * HOUR_MS) * 1000 + 123_456, untilUs: endMs * 1000, whitelist: [{ source_pod: ['payments/'] }, { destination_pod: ['payments/'] }] };
  // Both the audit query and its baseline (the same count by scanning the raw rows of the 7
  // days, no pairs table) run on a freshly opened store with default settings (FlowStore's
  // pragmas, SQLite's default page cache), first with the file evicted from the page cache
  // (cold), then once more on the same connection (warm); rounds alternate the two.
  const files = [path, `${path}-wal`, `${path}-shm`];
  const audit = { cold: [] as number[], warm: [] as number[] };
  const scan = { cold: [] as number[], warm: [] as number[] };
  let answer: PairAggregate[] = [];
  let scanned = -1;
  let resident = 0;
  const rounds = Number(process.env.TENDRIL_BENCH_AUDIT_ROUNDS ?? 3);
  for (let r = 0; r < rounds; r++) {
    resident = Math.max(resident, dropPageCache(files));
    let s = new FlowStore(path);
    for (const into of [audit.cold, audit.warm]) {
      const t = performance.now();
      answer = s.aggregatePairs(q);
      into.push(performance.now() - t);
    }
    s.close();
    resident = Math.max(resident, dropPageCache(files));
    s = new FlowStore(path);
    const stmt = s.db.prepare('SELECT count(*) AS c FROM flows WHERE time_us >= ? AND time_us <= ? AND is_reply = 0 AND (src_ns = ? OR dst_ns = ?)');
    for (const into of [scan.cold, scan.warm]) {
      const t = performance.now();
      scanned = (stmt.get(q.sinceUs, q.untilUs, 'payments', 'payments') as { c: number }).c;
      into.push(performance.now() - t);
    }
    s.close();
  }
  const total = answer.reduce((sum, p) => sum + p.total, 0);
  if (scanned !== total) throw new Error(`BUG: pairs answer counts ${total} flows, raw scan counts ${scanned}`);
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cacheNote = Number.isNaN(resident)
    ? 'page cache dropped per file with posix_fadvise DONTNEED (python3 helper); fincore missing, residency not verified'
    : `page cache dropped per file with posix_fadvise DONTNEED (python3 helper); at most ${fmt(resident / 1e6, 1)} MB still resident after a drop (fincore)`;
  log(`audit query --namespace payments --since 7d --aggregate pairs (${answer.length} pairs, ${fmt(total)} flows), fresh store, default settings, median of ${rounds} rounds; ${cacheNote}:`);
  log(`  cold: ${fmt(med(audit.cold), 1)} ms = ${fmt(med(audit.cold) / 1000, 3)}x the 1 s target; raw-table scan baseline cold: ${fmt(med(scan.cold), 0)} ms = pairs query ${fmt(med(scan.cold) / med(audit.cold), 0)}x faster`);
  log(`  warm: ${fmt(med(audit.warm), 1)} ms = ${fmt(med(audit.warm) / 1000, 3)}x the 1 s target; raw-table scan baseline warm: ${fmt(med(scan.warm), 0)} ms = pairs query ${fmt(med(scan.warm) / med(audit.warm), 0)}x faster`);
  await benchPostgres(log, n, endMs, q, answer, { audit: med(audit.cold), auditWarm: med(audit.warm) }, rounds);
}

/**
 * The same on PostgreSQL (a server from Debian's package started here on loopback, default
 * settings): StoreSink write rate against the SQLite writer measured in this run, then the
 * audit query and the raw-scan baseline over the same rows, cold (server restarted: empty
 * shared buffers, and its files evicted from the page cache) and warm (the next call).
 */
async function benchPostgres(
  log: (l: string) => void,
  n: number,
  endMs: number,
  q: StoreQuery,
  liteAnswer: PairAggregate[],
  lite: { audit: number; auditWarm: number },
  rounds: number,
): Promise<void> {
  if (!postgresBinDir()) {
    log('postgresql: NOT RUN (Debian package postgresql not installed)');
    return;
  }
  const server = await startPostgres('127.0.190.6');
  try {
    // Write rate: 100,000 generic flows through StoreSink, as benchStoreWrite does for SQLite.
    const N = 100_000;
    const pool = sampleFlows(4096);
    const writeRate = async (opts: { path: string; url?: string }): Promise<number> => {
      const sink = new StoreSink({ ...opts, retentionMs: 30 * 24 * HOUR_MS, maxPending: 1_000_000, batchSize: 5000, flushIntervalMs: 3_600_000 }, pino({ level: 'silent' }));
      await sink.start();
      const t0 = performance.now();
      for (let i = 0; i < N; i += 5000) {
        for (let j = i; j < i + 5000; j++) sink.emit(pool[j % pool.length]!);
        await sink.flush();
      }
      const s = (performance.now() - t0) / 1000;
      await sink.stop();
      if (sink.written !== N) throw new Error(`BUG: stored ${sink.written} of ${N} flows`);
      return N / s;
    };
    const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-pgw-'));
    let liteRate: number;
    try {
      liteRate = await writeRate({ path: join(dir, 'w.db') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const admin = await PgFlowStore.open(server.url);
    await admin.raw('CREATE DATABASE writes');
    await admin.raw('CREATE DATABASE audit');
    await admin.close();
    const pgRate = await writeRate({ path: '', url: server.url.replace(/\/postgres$/, '/writes') });
    log(`postgresql store writes (StoreSink, batches of 5,000, synchronous_commit on): ${fmt(pgRate)} flows/s = ${fmt(pgRate / liteRate, 2)}x SQLite's ${fmt(liteRate)} flows/s in this run`);

    const url = server.url.replace(/\/postgres$/, '/audit');
    let store = await PgFlowStore.open(url);
    const t0 = performance.now();
    for (const rows of auditRows(n, endMs)) await store.insert(rows);
    await store.raw('VACUUM ANALYZE flows');
    await store.raw('VACUUM ANALYZE pairs');
    const fillS = (performance.now() - t0) / 1000;
    await store.close();
    log(`postgresql audit store: the same ${fmt(n)} flows loaded in ${fmt(fillS, 1)} s (${fmt(n / fillS)} flows/s incl. VACUUM ANALYZE)`);
    const audit = { cold: [] as number[], warm: [] as number[] };
    const scan = { cold: [] as number[], warm: [] as number[] };
    let answer: PairAggregate[] = [];
    let scanned = -1;
    let resident = 0;
    const cold = async (): Promise<PgFlowStore> => {
      server.restart(() => {
        resident = Math.max(resident, dropPageCache([server.dataDir]));
      });
      return PgFlowStore.open(url);
    };
    for (let r = 0; r < rounds; r++) {
      store = await cold();
      for (const into of [audit.cold, audit.warm]) {
        const t = performance.now();
        answer = await store.aggregatePairs(q);
        into.push(performance.now() - t);
      }
      await store.close();
      store = await cold();
      for (const into of [scan.cold, scan.warm]) {
        const t = performance.now();
        const rows = await store.raw<{ c: number }>('SELECT count(*) AS c FROM flows WHERE time_us >= $1 AND time_us <= $2 AND is_reply = 0 AND (src_ns = $3 OR dst_ns = $3)', [q.sinceUs, q.untilUs, 'payments']);
        scanned = rows[0]!.c;
        into.push(performance.now() - t);
      }
      await store.close();
    }
    if (JSON.stringify(answer) !== JSON.stringify(liteAnswer)) throw new Error('BUG: PostgreSQL and SQLite audit answers differ');
    const total = answer.reduce((sum, p) => sum + p.total, 0);
    if (scanned !== total) throw new Error(`BUG: pairs answer counts ${total} flows, raw scan counts ${scanned}`);
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    log(`postgresql audit query (same answer as SQLite), fresh connection after a server restart, median of ${rounds} rounds; data directory evicted from the page cache (at most ${fmt(resident / 1e6, 1)} MB resident after):`);
    log(`  cold: ${fmt(med(audit.cold), 1)} ms = ${fmt(med(audit.cold) / lite.audit, 2)}x SQLite cold; raw-table scan baseline cold: ${fmt(med(scan.cold), 0)} ms = pairs query ${fmt(med(scan.cold) / med(audit.cold), 0)}x faster`);
    log(`  warm: ${fmt(med(audit.warm), 1)} ms = ${fmt(med(audit.warm) / lite.auditWarm, 2)}x SQLite warm; raw-table scan baseline warm: ${fmt(med(scan.warm), 0)} ms = pairs query ${fmt(med(scan.warm) / med(audit.warm), 0)}x faster`);
  } finally {
    server.stop();
  }
}

const run$ = promisify(execFile);

/**
 * req/s of one wrk run through a fresh proxy whose flows go to `sink`, and the CPU time (all
 * threads of this process: event loop, GC helpers, the store writer) per request.
 */
async function proxyRun(sink: FlowSink, files: { policies: string; world: string }, seconds: number): Promise<{ rps: number; cpuUs: number }> {
  const { createEngine, loadPolicies, loadWorld } = await import('../policy/index.js');
  const { describeFromWorld, ExplicitRedirectSource, startProxy } = await import('../proxy/index.js');
  const { startRecordingUpstream } = await import('../test/proxy/helpers/harness.js');
  const world = loadWorld(files.world);
  const engine = createEngine({ policies: loadPolicies([files.policies]), world });
  const upstream = await startRecordingUpstream('127.0.178.10');
  const proxy = await startProxy({
    engine,
    log: pino({ level: 'silent' }),
    flows: sink,
    describe: describeFromWorld(world),
    redirects: [{ listen: { host: '127.0.178.1', port: 0 }, protocol: 'http', source: new ExplicitRedirectSource({ destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: upstream.host, port: upstream.port } }, (ip) => engine.endpointByIp(ip)) }],
  });
  try {
    const a = proxy.listeners[0]!.address;
    const c0 = process.cpuUsage();
    const { stdout } = await run$('wrk', ['-t1', '-c16', `-d${seconds}s`, `http://${a.host}:${a.port}/api/v1/payments/P1`], { timeout: (seconds + 20) * 1000 });
    const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
    if (!m || /Non-2xx/.test(stdout)) throw new Error(`wrk output unexpected: ${stdout}`);
    const c = process.cpuUsage(c0);
    const rps = Number(m[1]);
    return { rps, cpuUs: (c.user + c.system) / (rps * seconds) };
  } finally {
    await proxy.close();
    await upstream.close();
  }
}

const ROUNDS = Number(process.env.TENDRIL_BENCH_PROXY_ROUNDS ?? 2);

async function benchProxy(log: (l: string) => void, dir: string): Promise<void> {
  const { writeSeedFiles } = await import('../test/proxy/helpers/harness.js');
  // wrk cannot bind a source address: 127.0.0.1 is a checkout pod in this world.
  const files = writeSeedFiles(178, ['127.0.0.1']);
  const obs = createObservability({
    config: { enabled: true, listenAddress: '127.0.0.1:0', eventBufferCapacity: 4096, metrics: { enabled: SEED, listenAddress: '127.0.0.1:0' }, store: { enabled: true, path: join(dir, 'proxy.db'), retention: 30 * 86_400_000 } },
    log: pino({ level: 'silent' }),
    nodeName: 'bench',
    version: 'bench',
  });
  await obs.start();
  try {
    const ring = new FlowRing(4096);
    const metrics = new FlowMetrics(SEED, ring);
    const configs: Array<[string, FlowSink]> = [
      ['off (null sink: flows not even built)', NULL_SINK],
      ['flows built, then discarded', { emit: () => {} }],
      ['ring only', new FanoutSink([ring])],
      ['ring + seed metrics', new FanoutSink([ring, metrics])],
      ['full: ring + metrics + store', obs.sink],
    ];
    const results = configs.map(() => [] as number[]);
    const cpu = configs.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < configs.length; i++) {
        const r = await proxyRun(configs[i]![1], files, 3);
        results[i]!.push(r.rps);
        cpu[i]!.push(r.cpuUs);
      }
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const base = mean(results[0]!);
    const cpuBase = mean(cpu[0]!);
    log(`proxy throughput (wrk -t1 -c16 through the L7 proxy, seed policy; ${ROUNDS} interleaved 3 s runs per config; CPU = this process, all threads):`);
    configs.forEach(([name], i) => {
      const m = mean(results[i]!);
      const c = mean(cpu[i]!);
      log(`  ${name.padEnd(40)} ${fmt(m).padStart(7)} req/s = ${fmt(m / base, 3)}x off  (cost ${fmt((1 - m / base) * 100, 1)}%; target < 5%); CPU ${fmt(c, 1)} us/request = +${fmt(c - cpuBase, 1)} us`);
    });
  } finally {
    await obs.stop();
    rmSync(files.dir, { recursive: true, force: true });
  }
}

export async function run(log: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-observe-'));
  try {
    // TENDRIL_BENCH_OBSERVE_PARTS=emit,retention,store,proxy,audit runs only those parts.
    const parts = process.env.TENDRIL_BENCH_OBSERVE_PARTS?.split(',');
    const want = (p: string): boolean => parts === undefined || parts.includes(p);
    if (want('emit')) await benchEmit(log, dir);
    if (want('retention')) benchRetention(log);
    if (want('store')) await benchStoreWrite(log, dir);
    if (want('proxy')) await benchProxy(log, dir);
    if (want('audit')) await benchAudit(log, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
