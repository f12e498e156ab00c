/** Batch verdicts for `tendril policy trace` (policy-trace contract); formatting lives in agent/cli. */
import { AggregateInputError, TendrilError } from '../core/index.js';
import type { SideVerdict } from './api.js';
import type { TraceCase } from './cases.js';
import type { Engine } from './engine.js';
import type { Peer } from './peers.js';
import { resolvePeer } from './peers.js';
import { serviceBackend } from './services.js';

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
  /** For `to: {service: ns/name}` cases: the backend judged and its port (S10). */
  backend?: { name: string; port: number };
}

/**
 * Resolves every case's peers first (unknown endpoint => TND_CASES_INVALID for all of them at
 * once, nothing evaluated), then evaluates in order.
 */
export function trace(engine: Engine, cases: readonly TraceCase[], file = 'cases'): TraceResult[] {
  const errors: TendrilError[] = [];
  const resolved: { c: TraceCase; from: Peer; to: Peer; backend?: { name: string; port: number } }[] = [];
  for (const c of cases) {
    const from = resolvePeer(engine.world, c.from);
    let backend: { name: string; port: number } | undefined;
    let to: Peer | string;
    if ('service' in c.to) {
      const b = serviceBackend(engine.world, c.to.service, c.port, c.protocol);
      to = typeof b === 'string' ? b : b.peer;
      if (typeof b !== 'string') backend = { name: b.name, port: b.port };
    } else to = resolvePeer(engine.world, c.to);
    for (const [field, p] of [['from', from], ['to', to]] as const) {
      if (typeof p === 'string') errors.push(new TendrilError('TND_CASES_INVALID', `${file} ${c.where}: ${field}: ${p}`, { file, field }));
    }
    if (typeof from !== 'string' && typeof to !== 'string') resolved.push({ c, from, to, backend });
  }
  if (errors.length > 0) throw new AggregateInputError('TND_CASES_INVALID', errors);
  return resolved.map(({ c, from, to, backend }) => {
    const v = engine.evaluate(from, to, backend?.port ?? c.port, c.protocol, c.payload);
    return {
      id: c.id,
      verdict: v.allowed ? 'allowed' : 'denied',
      authRequired: v.authRequired,
      l7: v.l7,
      egress: v.egress ?? NOT_AN_ENDPOINT,
      ingress: v.ingress ?? NOT_AN_ENDPOINT,
      reason: v.reason,
      ...(backend ? { backend } : {}),
    };
  });
}
