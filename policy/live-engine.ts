/**
 * A PolicyEngine whose snapshot can be replaced in one step. Readers call through it; `swap()`
 * installs a new immutable Engine and bumps `version`, so a holder of per-connection state
 * (the proxy) can tell that the set changed and judge its next request by the new one.
 */
import type { ConnectionPolicy, ConnectionQuery, PolicyEngine } from './api.js';
import type { Engine } from './engine.js';

export class SwappableEngine implements PolicyEngine {
  private cur: Engine;
  private ver = 1;
  /** Names the DNS proxy learned; applied to every snapshot swapped in (policy or world changes). */
  private learned: ReadonlyMap<string, readonly string[]> | null = null;

  constructor(initial: Engine) {
    this.cur = initial;
  }

  /** Increases by one on every swap. */
  get version(): number {
    return this.ver;
  }

  get current(): Engine {
    return this.cur;
  }

  swap(next: Engine): void {
    this.cur = this.learned ? next.withLearnedFqdns(this.learned) : next;
    this.ver++;
  }

  /**
   * Replaces the learned names (normalized name -> IPs, the DNS proxy's FQDN cache) in the current
   * snapshot and in every later one; returns this engine (readers keep calling through it).
   */
  withLearnedFqdns(learned: ReadonlyMap<string, readonly string[]>): PolicyEngine {
    this.learned = learned;
    this.cur = this.cur.withLearnedFqdns(learned);
    this.ver++;
    return this;
  }

  connection(q: ConnectionQuery): ConnectionPolicy {
    return this.cur.connection(q);
  }

  endpointByIp(ip: string): string | null {
    return this.cur.endpointByIp(ip);
  }
}
