/**
 * The retained flow store on PostgreSQL (`hubble.store.url: postgres://...`), for clusters whose
 * flows outgrow one node's disk: the same tables, columns and queries as the SQLite store
 * (schema.ts; docs/observe.md, "PostgreSQL"), written in batches: one transaction per batch with
 * one multi-row INSERT of the flows (`unnest` of column arrays) and one multi-row upsert of the
 * hourly pairs. Asynchronous (pg); the store writer thread and `tendril observe --store` use it.
 */
import pg from 'pg';
import { TendrilError } from '../../core/index.js';
import { compileFilters } from '../filter.js';
import type { Flow } from '../flow.js';
import { auditSplit, pairDeltas, pairsSql, PairAccumulator, type PairAggregate, type StoreQuery } from './audit.js';
import { HOUR_US, type FlowRow } from './row.js';
import { SCHEMA_VERSION } from './schema.js';

/** The SQLite schema (schema.ts) in PostgreSQL types: 64-bit times and counts, same names. */
export const PG_DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flows (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time_us BIGINT NOT NULL,
  src_ns TEXT NOT NULL,
  src TEXT NOT NULL,
  dst_ns TEXT NOT NULL,
  dst TEXT NOT NULL,
  dst_port INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  verdict TEXT NOT NULL,
  is_reply SMALLINT NOT NULL,
  flow TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS flows_time ON flows (time_us);
CREATE TABLE IF NOT EXISTS pairs (
  hour BIGINT NOT NULL,
  src_ns TEXT NOT NULL,
  src TEXT NOT NULL,
  dst_ns TEXT NOT NULL,
  dst TEXT NOT NULL,
  dst_port INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  verdict TEXT NOT NULL,
  count BIGINT NOT NULL,
  first_us BIGINT NOT NULL,
  last_us BIGINT NOT NULL,
  PRIMARY KEY (hour, src_ns, src, dst_ns, dst, dst_port, protocol, verdict)
);
CREATE INDEX IF NOT EXISTS pairs_dst_ns ON pairs (dst_ns, hour);
CREATE INDEX IF NOT EXISTS pairs_src_ns ON pairs (src_ns, hour);
`;

/** Serializes concurrent schema creation from several connections (any constant works). */
const DDL_LOCK = 0x7444_0001;
const PAGE = 5000;

/** True for a `postgres://` or `postgresql://` URL (else the store is a SQLite path). */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

/** The URL without its password, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** BIGINT (OID 20) as a JS number: times are epoch µs, exact below 2^53. */
const types = {
  getTypeParser(oid: number, format?: string): (v: string) => unknown {
    if (oid === 20) return Number;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

type Grouped = { src: string; dst: string; dst_port: number; protocol: string; verdict: string; n: number; first: number; last: number };

export class PgFlowStore {
  private constructor(
    private readonly client: pg.Client,
    readonly location: string,
  ) {}

  /** Connects and creates the schema when missing; rejects with TND_OBSERVE_STORE. */
  static async open(url: string): Promise<PgFlowStore> {
    const location = redactUrl(url);
    const client = new pg.Client({ connectionString: url, types, application_name: 'tendril-flow-store' });
    client.on('error', () => undefined); // a dropped connection fails the next query, which reports it
    try {
      await client.connect();
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
      await client.query(PG_DDL);
      const v = await client.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`);
      if (v.rows[0] && Number(v.rows[0].value) !== SCHEMA_VERSION) {
        throw new TendrilError('TND_OBSERVE_STORE', `${location}: flow store schema version ${v.rows[0].value}, this version needs ${SCHEMA_VERSION}; use another database`, { url: location });
      }
      await client.query(`INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT DO NOTHING`, [String(SCHEMA_VERSION)]);
      await client.query('COMMIT');
    } catch (err) {
      await client.end().catch(() => undefined);
      if (err instanceof TendrilError) throw err;
      throw new TendrilError('TND_OBSERVE_STORE', `${location}: cannot open flow store: ${(err as Error).message}`, { url: location }, { cause: err });
    }
    return new PgFlowStore(client, location);
  }

  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.client.query<R>(sql, params);
    } catch (err) {
      throw new TendrilError('TND_OBSERVE_STORE', `${this.location}: ${(err as Error).message}`, { url: this.location }, { cause: err });
    }
  }

  /** Writes rows in one transaction: flows, then the pair deltas (one statement each). */
  async insert(rows: FlowRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols: unknown[][] = Array.from({ length: 10 }, () => new Array(rows.length));
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      cols[0]![i] = r.timeUs;
      cols[1]![i] = r.srcNs;
      cols[2]![i] = r.src;
      cols[3]![i] = r.dstNs;
      cols[4]![i] = r.dst;
      cols[5]![i] = r.dstPort;
      cols[6]![i] = r.protocol;
      cols[7]![i] = r.verdict;
      cols[8]![i] = r.isReply ? 1 : 0;
      cols[9]![i] = r.json;
    }
    const pairs: unknown[][] = Array.from({ length: 11 }, () => []);
    for (const { r, hour, count, first, last } of pairDeltas(rows)) {
      const v = [hour, r.srcNs, r.src, r.dstNs, r.dst, r.dstPort, r.protocol, r.verdict, count, first, last];
      for (let k = 0; k < 11; k++) pairs[k]!.push(v[k]);
    }
    try {
      await this.q('BEGIN');
      await this.q(
        `INSERT INTO flows (time_us, src_ns, src, dst_ns, dst, dst_port, protocol, verdict, is_reply, flow)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::smallint[], $10::text[])`,
        cols,
      );
      if (pairs[0]!.length > 0) {
        await this.q(
          `INSERT INTO pairs (hour, src_ns, src, dst_ns, dst, dst_port, protocol, verdict, count, first_us, last_us)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[])
           ON CONFLICT (hour, src_ns, src, dst_ns, dst, dst_port, protocol, verdict) DO UPDATE SET count = pairs.count + excluded.count,
             first_us = least(pairs.first_us, excluded.first_us), last_us = greatest(pairs.last_us, excluded.last_us)`,
          pairs,
        );
      }
      await this.q('COMMIT');
    } catch (err) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw new TendrilError('TND_OBSERVE_STORE', `${this.location}: writing ${rows.length} flows failed: ${(err as Error).message}`, { url: this.location }, { cause: err });
    }
  }

  async count(): Promise<number> {
    return (await this.q<{ n: number }>('SELECT count(*) AS n FROM flows')).rows[0]!.n;
  }

  /** Deletes flows older than `cutoffUs` (in chunks) and pair hours wholly before it. */
  async prune(cutoffUs: number, chunk = 50_000): Promise<number> {
    let total = 0;
    for (;;) {
      const res = await this.q('DELETE FROM flows WHERE id IN (SELECT id FROM flows WHERE time_us < $1 ORDER BY time_us LIMIT $2)', [cutoffUs, chunk]);
      total += res.rowCount ?? 0;
      if ((res.rowCount ?? 0) < chunk) break;
    }
    await this.q('DELETE FROM pairs WHERE hour < $1', [Math.floor(cutoffUs / HOUR_US)]);
    return total;
  }

  /** Rows of `flows` in [since, until] in (time, id) order, newest first when `desc`, in pages. */
  private async *scan(since: number, until: number, desc: boolean, extra = ''): AsyncGenerator<{ id: number; time_us: number; src: string; dst: string; dst_port: number; protocol: string; verdict: string; flow: string }> {
    let after: [number, number] | null = null;
    const dir = desc ? 'DESC' : 'ASC';
    for (;;) {
      const params: unknown[] = [since, until];
      let keyset = '';
      if (after) {
        params.push(after[0], after[1]);
        keyset = ` AND (time_us, id) ${desc ? '<' : '>'} ($3, $4)`;
      }
      const res = await this.q<{ id: number; time_us: number; src: string; dst: string; dst_port: number; protocol: string; verdict: string; flow: string }>(
        `SELECT id, time_us, src, dst, dst_port, protocol, verdict, flow FROM flows
         WHERE time_us >= $1 AND time_us <= $2${extra}${keyset} ORDER BY time_us ${dir}, id ${dir} LIMIT ${PAGE}`,
        params,
      );
      for (const r of res.rows) yield r;
      if (res.rows.length < PAGE) return;
      const last = res.rows[res.rows.length - 1]!;
      after = [last.time_us, last.id];
    }
  }

  /** As FlowStore.queryFlows. */
  async queryFlows(q: StoreQuery & { number?: number; first?: boolean }): Promise<Flow[]> {
    const pred = compileFilters(q.whitelist, q.blacklist);
    const limit = q.number && q.number > 0 ? q.number : Number.POSITIVE_INFINITY;
    const out: Flow[] = [];
    for await (const row of this.scan(q.sinceUs ?? 0, q.untilUs ?? Number.MAX_SAFE_INTEGER, !q.first)) {
      const f = JSON.parse(row.flow) as Flow;
      if (!pred(f)) continue;
      out.push(f);
      if (out.length >= limit) break;
    }
    return q.first ? out : out.reverse();
  }

  /** As FlowStore.aggregatePairs: whole hours from `pairs`, edge hours from `flows`. */
  async aggregatePairs(q: StoreQuery): Promise<PairAggregate[]> {
    const since = q.sinceUs ?? 0;
    const until = q.untilUs ?? Date.now() * 1000;
    const acc = new PairAccumulator();
    const sql = pairsSql(q, (i) => `$${i + 3}`);
    if (sql === null) {
      const pred = compileFilters(q.whitelist, q.blacklist);
      for await (const r of this.scan(since, until, false, ' AND is_reply = 0')) {
        if (pred(JSON.parse(r.flow) as Flow)) acc.add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, 1, r.time_us, r.time_us);
      }
      return acc.result();
    }
    const split = auditSplit(since, until);
    for (const [from, to] of split.raw) {
      const res = await this.q<Grouped>(
        `SELECT src, dst, dst_port, protocol, verdict, count(*) AS n, min(time_us) AS first, max(time_us) AS last FROM flows
         WHERE time_us >= $1 AND time_us <= $2 AND is_reply = 0 AND ${sql.where} GROUP BY src, dst, dst_port, protocol, verdict`,
        [from, to, ...sql.params],
      );
      for (const r of res.rows) acc.add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, r.n, r.first, r.last);
    }
    if (split.hours) {
      const res = await this.q<Grouped>(
        `SELECT src, dst, dst_port, protocol, verdict, sum(count)::bigint AS n, min(first_us) AS first, max(last_us) AS last FROM pairs
         WHERE hour >= $1 AND hour < $2 AND ${sql.where} GROUP BY src, dst, dst_port, protocol, verdict`,
        [split.hours[0], split.hours[1], ...sql.params],
      );
      for (const r of res.rows) acc.add(r.src, r.dst, r.dst_port, r.protocol, r.verdict, r.n, r.first, r.last);
    }
    return acc.result();
  }

  /** Runs a read-only SQL statement (benchmarks' baselines). */
  async raw<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.q<R>(sql, params)).rows;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
