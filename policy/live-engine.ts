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
    this.cur = next;
    this.ver++;
  }

  connection(q: ConnectionQuery): ConnectionPolicy {
    return this.cur.connection(q);
  }

  endpointByIp(ip: string): string | null {
    return this.cur.endpointByIp(ip);
  }
}
