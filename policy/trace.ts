/** Batch verdicts for `tendril policy trace` (policy-trace contract); formatting lives in agent/cli. */
import { AggregateInputError, TendrilError } from '../core/index.js';
import type { SideVerdict } from './api.js';
import type { TraceCase } from './cases.js';
import type { Engine } from './engine.js';
import type { Peer } from './peers.js';
import { resolvePeer } from './peers.js';

const NOT_AN_ENDPOINT: SideVerdict = Object.freeze({ verdict: 'allowed', enforced: false });

/** One output line, field order as in the contract. */
export interface TraceResult {
  id: string;
  verdict: 'allowed' | 'denied';
  authRequired: boolean;
  l7: 'http' | 'kafka' | 'dns' | null;
  /** Always present; `{verdict: allowed, enforced: false}` when that side is not an endpoint. */
  egress: SideVerdict;
  ingress: SideVerdict;
  reason: string;
}

/**
 * Resolves every case's peers first (unknown endpoint => TND_CASES_INVALID for all of them at
 * once, nothing evaluated), then evaluates in order.
 */
export function trace(engine: Engine, cases: readonly TraceCase[], file = 'cases'): TraceResult[] {
  const errors: TendrilError[] = [];
  const resolved: { c: TraceCase; from: Peer; to: Peer }[] = [];
  for (const c of cases) {
    const from = resolvePeer(engine.world, c.from);
    const to = resolvePeer(engine.world, c.to);
    for (const [field, p] of [['from', from], ['to', to]] as const) {
      if (typeof p === 'string') errors.push(new TendrilError('TND_CASES_INVALID', `${file} ${c.where}: ${field}: ${p}`, { file, field }));
    }
    if (typeof from !== 'string' && typeof to !== 'string') resolved.push({ c, from, to });
  }
  if (errors.length > 0) throw new AggregateInputError('TND_CASES_INVALID', errors);
  return resolved.map(({ c, from, to }) => {
    const v = engine.evaluate(from, to, c.port, c.protocol, c.payload);
    return {
      id: c.id,
      verdict: v.allowed ? 'allowed' : 'denied',
      authRequired: v.authRequired,
      l7: v.l7,
      egress: v.egress ?? NOT_AN_ENDPOINT,
      ingress: v.ingress ?? NOT_AN_ENDPOINT,
      reason: v.reason,
    };
  });
}
