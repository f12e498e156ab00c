/**
 * The flow store on a real PostgreSQL server (Debian's postgresql, a fresh cluster started by
 * this test on 127.0.190.5 only, removed after even on failure): the same answers as the SQLite
 * store over the same flows (audit query with edge hours, the flows fallback for filters the
 * pairs table cannot answer, flow queries, pruning), the writer thread through StoreSink with
 * byte-identical JSON, `tendril observe --store postgres://...`, and createObservability with
 * `hubble.store.url`.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { runCli } from '../../agent/cli/main.js';
import { isTendrilError } from '../../core/index.js';
import { buildHttpFlow, formatFlowTime, newFlow, outcomeFromVerdict, type Endpoint, type Flow, type HttpFlowRecord } from '../../observe/index.js';
import { createObservability, FlowStore, PgFlowStore, StoreSink, toRow, type StoreQuery } from '../../observe/consumers/index.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { requirePrivileged } from '../helpers/privileged.js';

const log = pino({ level: 'silent' });
const HOST = '127.0.190.5';
const HOUR_MS = 3_600_000;

function havePostgres(t: TestContext): boolean {
  if (postgresBinDir()) return true;
  const msg = 'POSTGRESQL TEST NOT RUN: the Debian package postgresql is not installed (scripts/bootstrap.sh installs it)';
  if (requirePrivileged) throw new Error(`${msg} (TENDRIL_REQUIRE_PRIVILEGED=1 makes this a failure)`);
  process.stderr.write(`\n!!! ${msg}\n\n`);
  t.skip(msg);
  return false;
}

const ep = (ns: string, pod: string): Endpoint => ({ namespace: ns, pod_name: pod, identity: 1000 + pod.length, labels: [`k8s:app=${pod}`] });

/** Deterministic flows between a few pods over `hours` hours ending at `endMs`. */
function makeFlows(n: number, endMs: number, hours: number): Flow[] {
  const pods = [ep('payments', 'checkout'), ep('payments', 'payment'), ep('shop', 'frontend'), ep('shop', 'cart'), ep('ops', 'prober')];
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const out: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const s = pods[Math.floor(rnd() * pods.length)]!;
    let d = pods[Math.floor(rnd() * pods.length)]!;
    if (d === s) d = pods[(pods.indexOf(s) + 1) % pods.length]!;
    const reply = rnd() < 0.2;
    const port = rnd() < 0.5 ? 8080 : 9090;
    out.push(
      newFlow({
        time: formatFlowTime(BigInt(endMs - Math.floor(rnd() * hours * HOUR_MS)) * 1_000_000n + BigInt(i % 1000)),
        verdict: rnd() < 0.25 ? 'DROPPED' : 'FORWARDED',
        IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
        l4: { TCP: reply ? { source_port: port, destination_port: 40000 } : { source_port: 40000, destination_port: port } },
        source: reply ? d : s,
        destination: reply ? s : d,
        is_reply: reply,
        node_name: 'node-a',
      }),
    );
  }
  return out;
}

let pg: TestPostgres | null = null;
async function server(t: TestContext): Promise<TestPostgres> {
  if (!pg) {
    pg = await startPostgres(HOST, { fsync: 'off' });
  }
  return pg;
}
test.after(() => pg?.stop());

async function freshDb(t: TestContext, name: string): Promise<string> {
  const p = await server(t);
  const admin = await PgFlowStore.open(p.url);
  await admin.raw(`DROP DATABASE IF EXISTS ${name}`);
  await admin.raw(`CREATE DATABASE ${name}`);
  await admin.close();
  return p.url.replace(/\/postgres$/, `/${name}`);
}

test('PostgreSQL answers every query exactly as the SQLite store over the same flows', async (t) => {
  if (!havePostgres(t)) return;
  const url = await freshDb(t, 'same_answers');
  const dir = mkdtempSync(join(tmpdir(), 'tendril-pg-sqlite-'));
  const lite = new FlowStore(join(dir, 'flows.db'));
  const store = await PgFlowStore.open(url);
  t.after(async () => {
    lite.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const endMs = Date.parse('2026-05-20T10:17:23.456Z');
  const flows = makeFlows(12_000, endMs, 24 * 9);
  const rows = flows.map((f) => toRow(f)!);
  for (let i = 0; i < rows.length; i += 1000) {
    lite.insert(rows.slice(i, i + 1000));
    await store.insert(rows.slice(i, i + 1000));
  }
  assert.equal(await store.count(), lite.count());
  const us = (ms: number): number => ms * 1000;
  const queries: Array<[string, StoreQuery]> = [
    ['namespace, 7 days, edges inside hours', { sinceUs: us(endMs - 7 * 24 * HOUR_MS) + 123_456, untilUs: us(endMs) - 789, whitelist: [{ source_pod: ['payments/'] }, { destination_pod: ['payments/'] }] }],
    ['verdict and namespace', { sinceUs: us(endMs - 3 * 24 * HOUR_MS), untilUs: us(endMs), whitelist: [{ verdict: ['DROPPED'], destination_pod: ['shop/'] }] }],
    ['no filter, whole range', { sinceUs: 0, untilUs: us(endMs + HOUR_MS) }],
    ['within one hour', { sinceUs: us(endMs - 40 * 60_000), untilUs: us(endMs - 10 * 60_000), whitelist: [{ source_pod: ['ops/'] }] }],
    ['fallback to flows (label filter)', { sinceUs: us(endMs - 2 * 24 * HOUR_MS) + 5, untilUs: us(endMs), whitelist: [{ source_label: ['k8s:app=cart'] }] }],
    ['fallback to flows (blacklist)', { sinceUs: us(endMs - 24 * HOUR_MS), untilUs: us(endMs), blacklist: [{ verdict: ['FORWARDED'] }] }],
  ];
  for (const [name, q] of queries) {
    await t.test(`aggregatePairs: ${name}`, async () => {
      const want = lite.aggregatePairs(q);
      assert.ok(want.length > 0, 'the query selects something');
      assert.deepEqual(await store.aggregatePairs(q), want);
    });
  }
  for (const [name, q] of [
    ['last 50 of payments', { sinceUs: 0, untilUs: us(endMs), number: 50, whitelist: [{ source_pod: ['payments/'] }] }],
    ['first 7000 (more than one page)', { sinceUs: 0, untilUs: us(endMs), number: 7000, first: true }],
    ['all DROPPED of the last day', { sinceUs: us(endMs - 24 * HOUR_MS), untilUs: us(endMs), whitelist: [{ verdict: ['DROPPED'] }] }],
  ] as Array<[string, StoreQuery & { number?: number; first?: boolean }]>) {
    await t.test(`queryFlows: ${name}`, async () => {
      const want = lite.queryFlows(q);
      assert.ok(want.length > 0);
      assert.deepEqual(await store.queryFlows(q), want);
    });
  }
  await t.test('prune deletes the same flows and pair hours', async () => {
    const cutoff = us(endMs - 5 * 24 * HOUR_MS) + 17;
    assert.equal(await store.prune(cutoff, 1000), lite.prune(cutoff));
    assert.equal(await store.count(), lite.count());
    const q = { sinceUs: 0, untilUs: us(endMs) };
    assert.deepEqual(await store.aggregatePairs(q), lite.aggregatePairs(q));
  });
});

test('StoreSink writes to PostgreSQL from its thread; stored JSON is JSON.stringify of each flow', async (t) => {
  if (!havePostgres(t)) return;
  const url = await freshDb(t, 'sink');
  const sink = new StoreSink({ path: '', url, retentionMs: 3650 * 24 * HOUR_MS }, log);
  await sink.start();
  const endMs = Date.now();
  const generic = makeFlows(1500, endMs, 2);
  const conn = { srcIp: '127.0.190.10', srcPort: 40100, dstIp: '127.0.190.20', dstPort: 8080, source: ep('shop', 'checkout'), destination: ep('payments', 'payment'), nodeName: 'node-a', proxyPort: 15001, direction: 'INGRESS' as const };
  const outcome = outcomeFromVerdict({ allowed: true, authRequired: false, l7: 'http', reason: 'allowed by payments/allow', policy: 'payments/allow', rule: 'ingress[0]' });
  const recs: HttpFlowRecord[] = [];
  for (let i = 0; i < 600; i++) {
    recs.push({ conn, kind: i % 2 === 0 ? 0 : 2, time: formatFlowTime(BigInt(endMs - i) * 1_000_000n), uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, method: 'GET', url: `http://payment/p/${i}`, protocol: 'HTTP/1.1', outcome, code: 200, latencyNs: 1000, verdict: 'FORWARDED', reason: '', authFailed: false });
  }
  const want = new Map<string, string>();
  for (const f of generic) {
    sink.emit(f);
    want.set(f.uuid, JSON.stringify(f));
  }
  for (const r of recs) {
    const f = buildHttpFlow(r);
    sink.emitHttp(f, r);
    want.set(f.uuid, JSON.stringify(f));
  }
  await sink.stop();
  assert.equal(sink.written, want.size);
  assert.equal(sink.lost, 0);
  const store = await PgFlowStore.open(url);
  t.after(() => store.close());
  const stored = await store.raw<{ flow: string }>('SELECT flow FROM flows');
  assert.equal(stored.length, want.size);
  const mismatched = stored.filter((r) => want.get((JSON.parse(r.flow) as Flow).uuid) !== r.flow);
  assert.deepEqual(mismatched.slice(0, 3), []);
});

test('tendril observe --store takes a postgres:// URL and prints what the SQLite store prints', async (t) => {
  if (!havePostgres(t)) return;
  const url = await freshDb(t, 'cli');
  const dir = mkdtempSync(join(tmpdir(), 'tendril-pg-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'flows.db');
  const lite = new FlowStore(path);
  const store = await PgFlowStore.open(url);
  const rows = makeFlows(3000, Date.now(), 24 * 8).map((f) => toRow(f)!);
  lite.insert(rows);
  await store.insert(rows);
  lite.close();
  await store.close();
  const cli = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += d));
    stderr.on('data', (d) => (err += d));
    process.exitCode = undefined;
    const code = await runCli(args, { stdout, stderr });
    return { code, out, err };
  };
  for (const args of [
    ['--namespace', 'payments', '--since', '7d', '--aggregate', 'pairs', '-o', 'json'],
    ['--namespace', 'payments', '--since', '7d', '--aggregate', 'pairs'],
    ['--to-namespace', 'shop', '--verdict', 'DROPPED', '--last', '30', '-o', 'json'],
  ]) {
    await t.test(args.join(' '), async () => {
      const a = await cli(['observe', '--store', path, ...args]);
      const b = await cli(['observe', '--store', url, ...args]);
      assert.equal(a.code, 0, a.err);
      assert.equal(b.code, 0, b.err);
      assert.ok(a.out.trim().length > 0);
      assert.equal(b.out, a.out);
    });
  }
});

test('createObservability with hubble.store.url stores flows in PostgreSQL; status names the URL without password', async (t) => {
  if (!havePostgres(t)) return;
  const url = (await freshDb(t, 'obs')).replace('tendril@', 'tendril:secret@');
  const obs = createObservability({
    config: { enabled: true, listenAddress: `${HOST}:0`, eventBufferCapacity: 16, metrics: { enabled: [], listenAddress: '127.0.0.1:0' }, store: { enabled: true, path: '', retention: 30 * 86_400_000, url } },
    log,
    nodeName: 'node-a',
    version: 'test',
  });
  await obs.start();
  const flows = makeFlows(50, Date.now(), 1);
  for (const f of flows) obs.sink.emit(f);
  const status = obs.status() as { store: { url: string } };
  await obs.stop();
  assert.equal(status.store.url, url.replace('secret', '***'));
  const store = await PgFlowStore.open(url);
  t.after(() => store.close());
  assert.equal(await store.count(), 50);
});

test('an unreachable PostgreSQL fails with TND_OBSERVE_STORE naming the URL (password hidden); the CLI exits 1', async (t) => {
  if (!havePostgres(t)) return;
  await assert.rejects(PgFlowStore.open(`postgres://tendril:pw@${HOST}:1/nope`), (e: unknown) => isTendrilError(e) && e.code === 'TND_OBSERVE_STORE' && e.message.includes(`tendril:***@${HOST}:1`) && !e.message.includes('pw@'));
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d) => (err += d));
  process.exitCode = undefined;
  const code = await runCli(['observe', '--store', `postgres://tendril:pw@${HOST}:1/nope`, '--last', '1'], { stdout, stderr });
  assert.equal(code, 1);
  assert.match(err, new RegExp(`tendril:\\*\\*\\*@${HOST.replace(/\./g, '\\.')}:1`));
  assert.ok(!err.includes('pw@'));
});
