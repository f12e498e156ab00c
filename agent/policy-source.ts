/**
 * Standalone-mode policy source: policies from files/directories and endpoints from the world
 * file, validated as a whole (nothing is applied when anything is invalid), compiled into one
 * PolicyEngine snapshot.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { createEngine, loadPolicies, loadWorld } from '../policy/index.js';
import type { PolicyEngine } from '../policy/api.js';
import type { World } from '../policy/index.js';

export interface LoadedPolicy {
  engine: PolicyEngine;
  world: World;
  summary: { policyFiles: string[]; world: string; policies: number; endpoints: number };
}

export async function loadStandalonePolicy(config: Config, log: Logger): Promise<LoadedPolicy> {
  const t0 = performance.now();
  const policies = await loadPolicies([...config.standalone.policies]);
  const world = await loadWorld(config.standalone.world);
  const engine = createEngine({ policies, world });
  const summary = {
    policyFiles: [...config.standalone.policies],
    world: config.standalone.world,
    policies: countOf(policies),
    endpoints: countOf((world as { endpoints?: unknown }).endpoints),
  };
  log.info({ ...summary, ms: Math.round(performance.now() - t0) }, 'policies and world loaded');
  return { engine, world, summary };
}

function countOf(x: unknown): number {
  if (Array.isArray(x)) return x.length;
  if (x && typeof x === 'object') {
    for (const key of ['policies', 'documents', 'rules'] as const) {
      const v = (x as Record<string, unknown>)[key];
      if (Array.isArray(v)) return v.length;
    }
    if (x instanceof Map) return x.size;
  }
  return 0;
}
