/**
 * The SQLite flow store: batched sink writes, the pairs audit query (checked against a brute-force
 * aggregation over the same flows), time-range edges inside an hour, filters, and retention pruning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { newFlow, formatFlowTime, type Flow, type Endpoint } from '../../observe/index.js';
import { FlowStore, type PairAggregate } from '../../observe/store/flow-store.js';
import { StoreSink } from '../../observe/store/store-sink.js';
import { toRow } from '../../observe/store/row.js';

const log = pino({ level: 'silent' });
const HOUR_MS = 3_600_000;
const paths = new Map<FlowStore, string>();

function tmpStore(t: { after: (fn: () => void) => void }): FlowStore {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-store-'));
  const store = new FlowStore(join(dir, 'sub', 'flows.db'));
  paths.set(store, join(dir, 'sub', 'flows.db'));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const ep = (ns: string, pod: string): Endpoint => ({ namespace: ns, pod_name: pod, identity: 1000 + pod.length });

/** Deterministic pseudo-random flows between a few pods over `hours` hours ending at `endMs`. */
function makeFlows(n: number, endMs: number, hours: number): Flow[] {
  const pods = [ep('payments', 'checkout'), ep('payments', 'payment'), ep('shop', 'frontend'), ep('shop', 'cart'), ep('ops', 'prober')];
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const s = pods[Math.floor(rnd() * pods.length)]!;
    let d = pods[Math.floor(rnd() * pods.length)]!;
    if (d === s) d = pods[(pods.indexOf(s) + 1) % pods.length]!;
    const tMs = endMs - Math.floor(rnd() * hours * HOUR_MS);
    const reply = rnd() < 0.2;
    const port = rnd() < 0.5 ? 8080 : 9090;
    out.push(newFlow({
      time: formatFlowTime(BigInt(tMs) * 1_000_000n),
      verdict: rnd() < 0.25 ? 'DROPPED' : 'FORWARDED',
      IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
      l4: { TCP: reply ? { source_port: port, destination_port: 40000 } : { source_port: 40000, destination_port: port } },
      source: reply ? d : s,
      destination: reply ? s : d,
      is_reply: reply,
    }));
  }
  return out;
}

/** The audit answer computed the slow, obvious way. */
function bruteForce(flows: Flow[], sinceMs: number, untilMs: number, ns: string): PairAggregate[] {
  const m = new Map<string, PairAggregate>();
  for (const f of flows) {
    const r = toRow(f)!;
    const tMs = r.timeUs / 1000;
    if (r.isReply || tMs < sinceMs || tMs > untilMs || (r.srcNs !== ns && r.dstNs !== ns)) continue;
    const k = `${r.src}|${r.dst}|${r.dstPort}|${r.protocol}`;
    const a = m.get(k) ?? { source: r.src, destination: r.dst, port: r.dstPort, protocol: r.protocol, verdicts: {}, total: 0, firstUs: r.timeUs, lastUs: r.timeUs };
    a.verdicts[r.verdict] = (a.verdicts[r.verdict] ?? 0) + 1;
    a.total++;
    a.firstUs = Math.min(a.firstUs, r.timeUs);
    a.lastUs = Math.max(a.lastUs, r.timeUs);
    m.set(k, a);
  }
  return [...m.values()].sort((a, b) => b.total - a.total || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination) || a.port - b.port);
}

test('the pairs audit query equals a brute-force aggregation, including partial edge hours', async (t) => {
  const store = tmpStore(t);
  const endMs = Date.parse('2026-05-20T10:17:23.456Z');
  const flows = makeFlows(20_000, endMs, 24 * 10);
  const sink = new StoreSink({ path: paths.get(store)!, retentionMs: 365 * 24 * HOUR_MS, batchSize: 3000 }, log);
  await sink.start();
  for (const f of flows) sink.emit(f);
  await sink.stop();
  assert.equal(store.count(), 20_000);
  const until = endMs - 1234;
  for (const [since, label] of [[endMs - 7 * 24 * HOUR_MS, '7d'], [endMs - 40 * 60_000, '40m inside one hour'], [endMs - 1.5 * HOUR_MS, '1.5h']] as const) {
    const got = store.aggregatePairs({ sinceUs: since * 1000, untilUs: until * 1000, whitelist: [{ source_pod: ['payments/'] }, { destination_pod: ['payments/'] }] });
    assert.deepEqual(got, bruteForce(flows, since, until, 'payments'), label);
    assert.ok(got.length > 0, label);
  }
});

test('audit query with a filter the pairs table cannot answer falls back to the flows and agrees', (t) => {
  const store = tmpStore(t);
  const endMs = Date.parse('2026-05-20T10:00:00Z');
  const flows = makeFlows(3000, endMs, 48);
  store.insert(flows.map((f) => toRow(f)!));
  const since = endMs - 30 * HOUR_MS;
  const viaPairs = store.aggregatePairs({ sinceUs: since * 1000, untilUs: endMs * 1000, whitelist: [{ destination_pod: ['payments/'], verdict: ['DROPPED'] }] });
  const viaScan = store.aggregatePairs({ sinceUs: since * 1000, untilUs: endMs * 1000, whitelist: [{ destination_pod: ['payments/'], verdict: ['DROPPED'], protocol: ['tcp'] }] });
  assert.ok(viaPairs.length > 0);
  assert.deepEqual(viaScan, viaPairs);
  assert.ok(viaPairs.every((p) => p.destination.startsWith('payments/') && Object.keys(p.verdicts).join() === 'DROPPED'));
});

test('queryFlows returns the last N matching flows in time order, or the first N', (t) => {
  const store = tmpStore(t);
  const endMs = Date.parse('2026-05-20T10:00:00Z');
  const flows = makeFlows(500, endMs, 5);
  store.insert(flows.map((f) => toRow(f)!));
  const sorted = [...flows].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const dropped = sorted.filter((f) => f.verdict === 'DROPPED' && f.destination?.namespace === 'shop');
  const last = store.queryFlows({ number: 5, whitelist: [{ verdict: ['DROPPED'], destination_pod: ['shop/'] }] });
  assert.deepEqual(last.map((f) => f.uuid), dropped.slice(-5).map((f) => f.uuid));
  const first = store.queryFlows({ number: 3, first: true, whitelist: [{ verdict: ['DROPPED'], destination_pod: ['shop/'] }] });
  assert.deepEqual(first.map((f) => f.uuid), dropped.slice(0, 3).map((f) => f.uuid));
  assert.deepEqual(first[0], JSON.parse(JSON.stringify(dropped[0])));
});

test('retention pruning deletes flows and pair hours older than the cutoff, keeps the rest', async (t) => {
  const store = tmpStore(t);
  const now = Date.now();
  const old = makeFlows(1000, now - 31 * 24 * HOUR_MS, 24);
  const fresh = makeFlows(700, now, 24);
  const sink = new StoreSink({ path: paths.get(store)!, retentionMs: 30 * 24 * HOUR_MS }, log);
  await sink.start();
  for (const f of [...old, ...fresh]) sink.emit(f);
  await sink.flush();
  assert.equal(store.count(), 1700);
  assert.equal(await sink.prune(), 1000);
  await sink.stop();
  assert.equal(store.count(), 700);
  const oldest = store.db.prepare('SELECT min(time_us) AS t FROM flows').get() as { t: number };
  assert.ok(oldest.t >= (now - 30 * 24 * HOUR_MS) * 1000);
  const pairHours = store.db.prepare('SELECT min(hour) AS h FROM pairs').get() as { h: number };
  assert.ok(pairHours.h >= Math.floor(((now - 30 * 24 * HOUR_MS) * 1000) / 3.6e9));
  const all = store.aggregatePairs({ sinceUs: 0, untilUs: now * 1000 });
  assert.equal(all.reduce((s, p) => s + p.total, 0), fresh.filter((f) => f.is_reply !== true).length);
});

test('the sink never blocks: beyond maxPending flows are dropped and counted', async (t) => {
  const store = tmpStore(t);
  const sink = new StoreSink({ path: paths.get(store)!, retentionMs: HOUR_MS, maxPending: 10, batchSize: 1000 }, log);
  await sink.start();
  for (const f of makeFlows(25, Date.now(), 1)) sink.emit(f);
  assert.equal(sink.lost, 15);
  await sink.stop();
  assert.equal(store.count(), 10);
  assert.equal(sink.written, 10);
});

test('opening a path that is not a database fails with TND_OBSERVE_STORE naming the file', async () => {
  assert.throws(() => new FlowStore('/proc/version'), (err: any) => err.code === 'TND_OBSERVE_STORE' && err.message.includes('/proc/version'));
  const sink = new StoreSink({ path: '/proc/version', retentionMs: HOUR_MS }, log);
  await assert.rejects(sink.start(), (err: any) => err.code === 'TND_OBSERVE_STORE' && err.message.includes('/proc/version'));
});

test('writes happen on the writer thread: emit only enqueues', async (t) => {
  const store = tmpStore(t);
  const sink = new StoreSink({ path: paths.get(store)!, retentionMs: 365 * 24 * HOUR_MS, batchSize: 100_000, flushIntervalMs: 60_000 }, log);
  await sink.start();
  t.after(() => sink.stop());
  for (const f of makeFlows(2000, Date.now(), 1)) sink.emit(f);
  assert.equal(store.count(), 0, 'nothing written synchronously');
  await sink.flush();
  assert.equal(store.count(), 2000);
  assert.equal(sink.written, 2000);
});
