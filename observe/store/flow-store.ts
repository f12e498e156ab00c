/**
 * The retained flow store (SQLite through better-sqlite3): batched inserts that maintain the
 * hourly `pairs` aggregate, retention pruning, flow queries and the pairs audit query.
 * All calls are synchronous (better-sqlite3); StoreSink keeps them off the emit path.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TendrilError } from '../../core/index.js';
import { compileFilters, type FlowFilter } from '../filter.js';
import type { Flow } from '../flow.js';
import { DDL, SCHEMA_VERSION } from './schema.js';
import { HOUR_US, type FlowRow } from './row.js';

/** One line of the audit answer: who talked to whom, how often, with which verdicts, when. */
export interface PairAggregate {
  source: string;
  destination: string;
  port: number;
  protocol: string;
  /** Flow counts by verdict name. */
  verdicts: Record<string, number>;
  total: number;
  /** First and last time seen, epoch microseconds. */
  firstUs: number;
  lastUs: number;
}

export interface StoreQuery {
  /** Inclusive lower bound, epoch µs. */
  sinceUs?: number;
  /** Inclusive upper bound, epoch µs (default: now). */
  untilUs?: number;
  whitelist?: FlowFilter[];
  blacklist?: FlowFilter[];
}

type SqlValue = string | number;

/** SQL for filters the pairs table can answer (namespaces and verdicts only), or null. */
function pairsSql(q: StoreQuery): { where: string; params: SqlValue[] } | null {
  if ((q.blacklist?.length ?? 0) > 0) return null;
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  for (const f of q.whitelist ?? []) {
    const parts: string[] = [];
    for (const [key, values] of Object.entries(f) as Array<[string, unknown[]]>) {
      if (!Array.isArray(values) || values.length === 0) continue;
      if (key === 'verdict') {
        parts.push(`verdict IN (${values.map(() => '?').join(',')})`);
        params.push(...(values as string[]));
      } else if (key === 'source_pod' || key === 'destination_pod') {
        if (!(values as string[]).every((v) => typeof v === 'string' && v.endsWith('/') && v.length > 1)) return null;
        parts.push(`${key === 'source_pod' ? 'src_ns' : 'dst_ns'} IN (${values.map(() => '?').join(',')})`);
        params.push(...(values as string[]).map((v) => v.slice(0, -1)));
      } else return null;
    }
    clauses.push(parts.length > 0 ? `(${parts.join(' AND ')})` : '1');
  }
  return { where: clauses.length > 0 ? `(${clauses.join(' OR ')})` : '1', params };
}

export class FlowStore {
  readonly db: Database.Database;
  private readonly insertFlow: Database.Statement;
  private readonly upsertPair: Database.Statement;
  private readonly insertTx: (rows: FlowRow[]) => void;

  /** Opens (creating) the store at `path` (`:memory:` for tests). */
  constructor(readonly path: string) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('temp_store = MEMORY');
      this.db.exec(DDL);
      const v = this.db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: string } | undefined;
      if (v && Number(v.value) !== SCHEMA_VERSION) {
        throw new TendrilError('TND_OBSERVE_STORE', `${path}: flow store schema version ${v.value}, this build needs ${SCHEMA_VERSION}; move the file away to start a new store`, { file: path });
      }
      this.db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
    } catch (err) {
      if (err instanceof TendrilError) throw err;
      throw new TendrilError('TND_OBSERVE_STORE', `${path}: cannot open flow store: ${(err as Error).message}`, { file: path }, { cause: err });
    }
    this.insertFlow = this.db.prepare(
      'INSERT INTO flows (time_us, src_ns, src, dst_ns, dst, dst_port, protocol, verdict, is_reply, flow) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.upsertPair = this.db.prepare(
      `INSERT INTO pairs (hour, src_ns, src, dst_ns, dst, dst_port, protocol, verdict, count, first_us, last_us)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET count = count + excluded.count,
         first_us = min(first_us, excluded.first_us), last_us = max(last_us, excluded.last_us)`,
    );
    this.insertTx = this.db.transaction((rows: FlowRow[]) => {
      const agg = new Map<string, { r: FlowRow; hour: number; count: number; first: number; last: number }>();
      for (const r of rows) {
        this.insertFlow.run(r.timeUs, r.srcNs, r.src, r.dstNs, r.dst, r.dstPort, r.protocol, r.verdict, r.isReply ? 1 : 0, r.json);
        if (r.isReply) continue;
        const hour = Math.floor(r.timeUs / HOUR_US);
        const key = `${hour}\0${r.srcNs}\0${r.src}\0${r.dstNs}\0${r.dst}\0${r.dstPort}\0${r.protocol}\0${r.verdict}`;
        const a = agg.get(key);
        if (a) {
          a.count++;
          if (r.timeUs < a.first) a.first = r.timeUs;
          if (r.timeUs > a.last) a.last = r.timeUs;
        } else agg.set(key, { r, hour, count: 1, first: r.timeUs, last: r.timeUs });
      }
      for (const { r, hour, count, first, last } of agg.values()) {
        this.upsertPair.run(hour, r.srcNs, r.src, r.dstNs, r.dst, r.dstPort, r.protocol, r.verdict, count, first, last);
      }
    });
  }

  /** Writes rows in one transaction (flows + pair aggregates). */
  insert(rows: FlowRow[]): void {
    if (rows.length === 0) return;
    try {
      this.insertTx(rows);
    } catch (err) {
      throw new TendrilError('TND_OBSERVE_STORE', `${this.path}: writing ${rows.length} flows failed: ${(err as Error).message}`, { file: this.path }, { cause: err });
    }
  }

  /** Number of stored flows. */
  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM flows').get() as { n: number }).n;
  }

  /**
   * Deletes up to `limit` flows older than `cutoffUs` and the pair hours wholly before it;
   * returns how many flows were deleted (call again while it returns `limit`).
   */
  pruneStep(cutoffUs: number, limit = 50_000): number {
    const res = this.db
      .prepare('DELETE FROM flows WHERE id IN (SELECT id FROM flows WHERE time_us < ? ORDER BY time_us LIMIT ?)')
      .run(cutoffUs, limit);
    this.db.prepare('DELETE FROM pairs WHERE hour < ?').run(Math.floor(cutoffUs / HOUR_US));
    return res.changes;
  }

  /** Prunes everything older than `cutoffUs`; returns the number of flows deleted. */
  prune(cutoffUs: number): number {
    let total = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const n = this.pruneStep(cutoffUs);
      total += n;
      if (n < 50_000) break;
    }
    return total;
  }

  /**
   * Flows in [since, until] matching the filters: the last `number` (or the first with `first`),
   * oldest first. Scans by the time index, newest first unless `first`.
   */
  queryFlows(q: StoreQuery & { number?: number; first?: boolean }): Flow[] {
    const pred = compileFilters(q.whitelist, q.blacklist);
    const limit = q.number && q.number > 0 ? q.number : Number.POSITIVE_INFINITY;
    const stmt = this.db.prepare(
      `SELECT flow FROM flows WHERE time_us >= ? AND time_us <= ? ORDER BY time_us ${q.first ? 'ASC' : 'DESC'}, id ${q.first ? 'ASC' : 'DESC'}`,
    );
    const out: Flow[] = [];
    for (const row of stmt.iterate(q.sinceUs ?? 0, q.untilUs ?? Number.MAX_SAFE_INTEGER) as IterableIterator<{ flow: string }>) {
      const f = JSON.parse(row.flow) as Flow;
      if (!pred(f)) continue;
      out.push(f);
      if (out.length >= limit) break;
    }
    return q.first ? out : out.reverse();
  }

  /**
   * The audit query: (client, server, port, protocol) pairs with counts per verdict and first/last
   * seen, over non-reply flows in [since, until]. Uses the hourly `pairs` table for whole hours
   * and the raw `flows` for the partial hours at both edges; filters the pairs table cannot answer
   * (anything beyond namespaces and verdicts) fall back to scanning flows in the range.
   */
  aggregatePairs(q: StoreQuery): PairAggregate[] {
    const since = q.sinceUs ?? 0;
    const until = q.untilUs ?? Date.now() * 1000;
    const out = new Map<string, PairAggregate>();
    const add = (src: string, dst: string, port: number, protocol: string, verdict: string, n: number, first: number, last: number): void => {
      const key = `${src}\0${dst}\0${port}\0${protocol}`;
      let a = out.get(key);
      if (!a) {
        a = { source: src, destination: dst, port, protocol, verdicts: {}, total: 0, firstUs: first, lastUs: last };
        out.set(key, a);
      }
      a.verdicts[verdict] = (a.verdicts[verdict] ?? 0) + n;
      a.total += n;
      a.firstUs = Math.min(a.firstUs, first);
      a.lastUs = Math.max(a.lastUs, last);
    };
    const sql = pairsSql(q);
    if (sql === null) {
      const pred = compileFilters(q.whitelist, q.blacklist);
      const stmt = this.db.prepare('SELECT time_us, src, dst, dst_port, protocol, verdict, flow FROM flows WHERE time_us >= ? AND time_us <= ? AND is_reply = 0');
      for (const r of stmt.iterate(since, until) as IterableIterator<{ time_us: number; src: string; dst: string; dst_port: number; protocol: string; verdict: string; flow: string }>) {
        if (pred(JSON.parse(r.flow) as Flow)) add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, 1, r.time_us, r.time_us);
      }
    } else {
      const hStart = Math.ceil(since / HOUR_US);
      const hEnd = Math.floor((until + 1) / HOUR_US);
      const rawGroup = (from: number, to: number): void => {
        if (to < from) return;
        const stmt = this.db.prepare(
          `SELECT src, dst, dst_port, protocol, verdict, count(*) AS n, min(time_us) AS first, max(time_us) AS last FROM flows
           WHERE time_us >= ? AND time_us <= ? AND is_reply = 0 AND ${sql.where} GROUP BY src, dst, dst_port, protocol, verdict`,
        );
        for (const r of stmt.iterate(from, to, ...sql.params) as IterableIterator<{ src: string; dst: string; dst_port: number; protocol: string; verdict: string; n: number; first: number; last: number }>) {
          add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, r.n, r.first, r.last);
        }
      };
      if (hStart >= hEnd) rawGroup(since, until);
      else {
        rawGroup(since, hStart * HOUR_US - 1);
        const stmt = this.db.prepare(
          `SELECT src, dst, dst_port, protocol, verdict, sum(count) AS n, min(first_us) AS first, max(last_us) AS last FROM pairs
           WHERE hour >= ? AND hour < ? AND ${sql.where} GROUP BY src, dst, dst_port, protocol, verdict`,
        );
        for (const r of stmt.iterate(hStart, hEnd, ...sql.params) as IterableIterator<{ src: string; dst: string; dst_port: number; protocol: string; verdict: string; n: number; first: number; last: number }>) {
          add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, r.n, r.first, r.last);
        }
        rawGroup(hEnd * HOUR_US, until);
      }
    }
    return [...out.values()].sort((a, b) => b.total - a.total || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination) || a.port - b.port);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
