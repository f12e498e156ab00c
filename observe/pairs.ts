/**
 * The `--aggregate pairs` answer computed from a list of flows (when reading from an Observer
 * server instead of the store), and its text renderings. Same orientation and rules as the
 * store's pairs table: non-reply flows, client -> server, per (port, protocol).
 */
import type { Flow } from './flow.js';
import type { PairAggregate } from './store/flow-store.js';
import { toRow } from './store/row.js';
import { alignTable } from './printer.js';

export function aggregateFlows(flows: Iterable<Flow>): PairAggregate[] {
  const m = new Map<string, PairAggregate>();
  for (const f of flows) {
    const r = toRow(f);
    if (!r || r.isReply) continue;
    const k = `${r.src}\0${r.dst}\0${r.dstPort}\0${r.protocol}`;
    let a = m.get(k);
    if (!a) {
      a = { source: r.src, destination: r.dst, port: r.dstPort, protocol: r.protocol, verdicts: {}, total: 0, firstUs: r.timeUs, lastUs: r.timeUs };
      m.set(k, a);
    }
    a.verdicts[r.verdict] = (a.verdicts[r.verdict] ?? 0) + 1;
    a.total++;
    a.firstUs = Math.min(a.firstUs, r.timeUs);
    a.lastUs = Math.max(a.lastUs, r.timeUs);
  }
  return [...m.values()].sort((a, b) => b.total - a.total || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination) || a.port - b.port);
}

const iso = (us: number): string => new Date(Math.floor(us / 1000)).toISOString();

/** One JSON object per pair. */
export function formatPairJson(p: PairAggregate): string {
  return JSON.stringify({ source: p.source, destination: p.destination, port: p.port, protocol: p.protocol, flows: p.total, verdicts: p.verdicts, first_seen: iso(p.firstUs), last_seen: iso(p.lastUs) });
}

/** An aligned table: SOURCE DESTINATION PORT FLOWS FORWARDED DROPPED OTHER FIRST-SEEN LAST-SEEN. */
export function formatPairsTable(pairs: PairAggregate[]): string {
  const rows = [['SOURCE', 'DESTINATION', 'PORT', 'FLOWS', 'FORWARDED', 'DROPPED', 'OTHER', 'FIRST-SEEN', 'LAST-SEEN']];
  for (const p of pairs) {
    const fwd = p.verdicts.FORWARDED ?? 0;
    const drop = p.verdicts.DROPPED ?? 0;
    rows.push([p.source, p.destination, p.port ? `${p.port}/${p.protocol}` : p.protocol, String(p.total), String(fwd), String(drop), String(p.total - fwd - drop), iso(p.firstUs), iso(p.lastUs)]);
  }
  return alignTable(rows);
}
