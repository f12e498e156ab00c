/**
 * The retained flow store (SQLite through better-sqlite3): batched inserts that maintain the
 * hourly `pairs` aggregate, retention pruning, flow queries and the pairs audit query.
 * All calls are synchronous (better-sqlite3); StoreSink keeps them off the emit path.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TendrilError } from '../../core/index.js';
import { compileFilters } from '../filter.js';
import type { Flow } from '../flow.js';
import { DDL, SCHEMA_VERSION } from './schema.js';
import { HOUR_US, type FlowRow } from './row.js';
import { auditSplit, pairDeltas, pairsSql, PairAccumulator, type PairAggregate, type StoreQuery } from './audit.js';

export type { PairAggregate, StoreQuery } from './audit.js';

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
        throw new TendrilError('TND_OBSERVE_STORE', `${path}: flow store schema version ${v.value}, this version needs ${SCHEMA_VERSION}; move the file away to start a new store`, { file: path });
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
      for (const r of rows) {
        this.insertFlow.run(r.timeUs, r.srcNs, r.src, r.dstNs, r.dst, r.dstPort, r.protocol, r.verdict, r.isReply ? 1 : 0, r.json);
      }
      for (const { r, hour, count, first, last } of pairDeltas(rows)) {
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
    const acc = new PairAccumulator();
    type Grouped = { src: string; dst: string; dst_port: number; protocol: string; verdict: string; n: number; first: number; last: number };
    const sql = pairsSql(q, () => '?');
    if (sql === null) {
      const pred = compileFilters(q.whitelist, q.blacklist);
      const stmt = this.db.prepare('SELECT time_us, src, dst, dst_port, protocol, verdict, flow FROM flows WHERE time_us >= ? AND time_us <= ? AND is_reply = 0');
      for (const r of stmt.iterate(since, until) as IterableIterator<{ time_us: number; src: string; dst: string; dst_port: number; protocol: string; verdict: string; flow: string }>) {
        if (pred(JSON.parse(r.flow) as Flow)) acc.add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, 1, r.time_us, r.time_us);
      }
      return acc.result();
    }
    const split = auditSplit(since, until);
    const raw = this.db.prepare(
      `SELECT src, dst, dst_port, protocol, verdict, count(*) AS n, min(time_us) AS first, max(time_us) AS last FROM flows
       WHERE time_us >= ? AND time_us <= ? AND is_reply = 0 AND ${sql.where} GROUP BY src, dst, dst_port, protocol, verdict`,
    );
    for (const [from, to] of split.raw) {
      for (const r of raw.iterate(from, to, ...sql.params) as IterableIterator<Grouped>) acc.add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, r.n, r.first, r.last);
    }
    if (split.hours) {
      const stmt = this.db.prepare(
        `SELECT src, dst, dst_port, protocol, verdict, sum(count) AS n, min(first_us) AS first, max(last_us) AS last FROM pairs
         WHERE hour >= ? AND hour < ? AND ${sql.where} GROUP BY src, dst, dst_port, protocol, verdict`,
      );
      for (const r of stmt.iterate(split.hours[0], split.hours[1], ...sql.params) as IterableIterator<Grouped>) acc.add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, r.n, r.first, r.last);
    }
    return acc.result();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
