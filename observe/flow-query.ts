/**
 * GetFlows selection over the ring (hubble-compat §1.1, §2.3 "Selectors"):
 * - `number` N: the last N matching flows, or the first N with `first`; 0 means no limit,
 *   except with `follow` where 0 means "only new flows";
 * - `since`/`until` bound the backlog by flow time (until defaults to now when since is set);
 * - `follow`: after the backlog, stream every new matching flow (until is ignored).
 */
import type { Flow } from './flow.js';
import { compileFilters, type FlowFilter, type FlowPredicate } from './filter.js';
import { parseFlowTime } from './new-flow.js';

export interface FlowsQuery {
  number?: number;
  first?: boolean;
  follow?: boolean;
  /** Lower time bound, epoch ns. */
  sinceNs?: bigint;
  /** Upper time bound, epoch ns. */
  untilNs?: bigint;
  whitelist?: FlowFilter[];
  blacklist?: FlowFilter[];
}

/** A compiled query: predicate for new flows plus the backlog selection. */
export interface CompiledQuery {
  matches: FlowPredicate;
  backlog(flows: readonly Flow[]): Flow[];
}

export function compileQuery(q: FlowsQuery, nowNs: () => bigint): CompiledQuery {
  const pred = compileFilters(q.whitelist, q.blacklist);
  const since = q.sinceNs;
  const until = q.follow ? undefined : (q.untilNs ?? (since !== undefined ? nowNs() : undefined));
  const inTime = (f: Flow): boolean => {
    if (since === undefined && until === undefined) return true;
    const t = parseFlowTime(f.time);
    if (t === null) return false;
    return (since === undefined || t >= since) && (until === undefined || t <= until);
  };
  const n = q.number ?? 0;
  return {
    matches: pred,
    backlog(flows) {
      if (q.follow && n === 0 && since === undefined) return [];
      const limit = n > 0 ? n : Number.POSITIVE_INFINITY;
      const out: Flow[] = [];
      if (q.first) {
        for (let i = 0; i < flows.length && out.length < limit; i++) {
          const f = flows[i]!;
          if (inTime(f) && pred(f)) out.push(f);
        }
        return out;
      }
      for (let i = flows.length - 1; i >= 0 && out.length < limit; i--) {
        const f = flows[i]!;
        if (inTime(f) && pred(f)) out.push(f);
      }
      return out.reverse();
    },
  };
}
