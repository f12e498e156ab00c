/**
 * The parts of the store's queries that do not depend on the database (SQLite or PostgreSQL):
 * which filters the hourly `pairs` table can answer and their SQL, the per-batch pair
 * aggregation of inserted rows, the hour split of an audit range, and the merge of partial
 * answers into the audit result (docs/observe.md, "Flow store").
 */
import type { FlowFilter } from '../filter.js';
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

export type SqlValue = string | number;

/**
 * SQL for filters the pairs table can answer (namespaces and verdicts only), or null.
 * `ph(i)` spells the placeholder of the i-th parameter of the clause (`?` or `$n`).
 */
export function pairsSql(q: StoreQuery, ph: (i: number) => string): { where: string; params: SqlValue[] } | null {
  if ((q.blacklist?.length ?? 0) > 0) return null;
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  const p = (): string => ph(params.length - 1);
  for (const f of q.whitelist ?? []) {
    const parts: string[] = [];
    for (const [key, values] of Object.entries(f) as Array<[string, unknown[]]>) {
      if (!Array.isArray(values) || values.length === 0) continue;
      if (key === 'verdict') {
        const list = (values as string[]).map((v) => (params.push(v), p()));
        parts.push(`verdict IN (${list.join(',')})`);
      } else if (key === 'source_pod' || key === 'destination_pod') {
        if (!(values as string[]).every((v) => typeof v === 'string' && v.endsWith('/') && v.length > 1)) return null;
        const list = (values as string[]).map((v) => (params.push(v.slice(0, -1)), p()));
        parts.push(`${key === 'source_pod' ? 'src_ns' : 'dst_ns'} IN (${list.join(',')})`);
      } else return null;
    }
    clauses.push(parts.length > 0 ? `(${parts.join(' AND ')})` : '1=1');
  }
  return { where: clauses.length > 0 ? `(${clauses.join(' OR ')})` : '1=1', params };
}

/** One pairs-table row a batch adds (non-reply rows grouped by hour and dimensions). */
export interface PairDelta {
  r: FlowRow;
  hour: number;
  count: number;
  first: number;
  last: number;
}

/** Groups a batch's non-reply rows into pair deltas (one upsert per distinct key). */
export function pairDeltas(rows: FlowRow[]): IterableIterator<PairDelta> {
  const agg = new Map<string, PairDelta>();
  for (const r of rows) {
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
  return agg.values();
}

/**
 * How an audit range splits: whole hours [hStart, hEnd) from `pairs`, the partial hours at both
 * edges from `flows` (raw ranges, inclusive µs bounds).
 */
export function auditSplit(since: number, until: number): { raw: Array<[number, number]>; hours: [number, number] | null } {
  const hStart = Math.ceil(since / HOUR_US);
  const hEnd = Math.floor((until + 1) / HOUR_US);
  if (hStart >= hEnd) return { raw: [[since, until]], hours: null };
  const raw: Array<[number, number]> = [];
  if (since <= hStart * HOUR_US - 1) raw.push([since, hStart * HOUR_US - 1]);
  if (hEnd * HOUR_US <= until) raw.push([hEnd * HOUR_US, until]);
  return { raw, hours: [hStart, hEnd] };
}

/** Merges partial answers (grouped rows) into the audit result. */
export class PairAccumulator {
  private readonly out = new Map<string, PairAggregate>();

  add(src: string, dst: string, port: number, protocol: string, verdict: string, n: number, first: number, last: number): void {
    const key = `${src}\0${dst}\0${port}\0${protocol}`;
    let a = this.out.get(key);
    if (!a) {
      a = { source: src, destination: dst, port, protocol, verdicts: {}, total: 0, firstUs: first, lastUs: last };
      this.out.set(key, a);
    }
    a.verdicts[verdict] = (a.verdicts[verdict] ?? 0) + n;
    a.total += n;
    a.firstUs = Math.min(a.firstUs, first);
    a.lastUs = Math.max(a.lastUs, last);
  }

  /** Busiest pairs first, then by names and port. */
  result(): PairAggregate[] {
    return [...this.out.values()].sort((a, b) => b.total - a.total || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination) || a.port - b.port);
  }
}
