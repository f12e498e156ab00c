/**
 * The FQDN cache (docs/dns.md "Learning"): name -> IPs learned from DNS answers the proxy
 * relayed, per source endpoint, with TTLs. Effective TTL = max(answer TTL, minTtl); at most
 * maxIpsPerName IPs per (endpoint, name), oldest evicted first; an IP stays selectable until
 * its TTL plus the grace period has passed; `sweep()` (run at least every sweepIntervalMs)
 * removes what expired. `names()` is the node-wide union the policy engine's toFQDNs selectors
 * read; every change is announced to `onChange` listeners with that union.
 */

export interface FqdnCacheOptions {
  /** Lower bound on the TTL, seconds (Cilium's tofqdns-min-ttl; default 0). */
  minTtlSeconds: number;
  /** Most IPs per (endpoint, name); the oldest go first (default 1000). */
  maxIpsPerName: number;
  /** How long an expired IP stays allowed, ms (default 0). */
  graceMs: number;
  /** Injectable clock, epoch ms. */
  now?: () => number;
}

export const DEFAULT_FQDN_CACHE_OPTIONS: Readonly<FqdnCacheOptions> = Object.freeze({ minTtlSeconds: 0, maxIpsPerName: 1000, graceMs: 0 });

interface IpEntry {
  /** Epoch ms when the TTL ends. */
  expiresAt: number;
  /** Epoch ms of the last answer that carried it (eviction order). */
  seenAt: number;
  ttl: number;
}

export interface FqdnCacheRow {
  name: string;
  /** `<namespace>/<pod>` that asked, or `world`. */
  source: string;
  ips: { ip: string; ttl: number; ttlLeftSeconds: number; expiresAt: string }[];
}

export type FqdnListener = (names: ReadonlyMap<string, readonly string[]>) => void | Promise<void>;

export class FqdnCache {
  private readonly opts: FqdnCacheOptions;
  private readonly now: () => number;
  /** source -> name -> ip -> entry. */
  private readonly bySource = new Map<string, Map<string, Map<string, IpEntry>>>();
  private readonly listeners: FqdnListener[] = [];
  private union: Map<string, string[]> = new Map();
  /** One publish for every change made in the same event-loop turn (answers arrive in bursts). */
  private scheduled: Promise<void> | null = null;

  constructor(opts: Partial<FqdnCacheOptions> = {}) {
    this.opts = { ...DEFAULT_FQDN_CACHE_OPTIONS, ...opts };
    this.now = opts.now ?? Date.now;
  }

  onChange(fn: FqdnListener): void {
    this.listeners.push(fn);
  }

  /** The node-wide union of live names -> IPs (normalized names). */
  names(): ReadonlyMap<string, readonly string[]> {
    return this.union;
  }

  /**
   * Records an answer: `ips` for normalized `name` asked by `source`, TTL seconds. When the
   * selectable set changed, returns a promise that resolves once every listener has applied it
   * (the proxy waits for it, bounded, before replying); a refresh of known IPs returns null.
   */
  learn(source: string, name: string, ips: readonly string[], ttl: number): Promise<void> | null {
    if (ips.length === 0) return null;
    const now = this.now();
    const eff = Math.max(ttl, this.opts.minTtlSeconds);
    let names = this.bySource.get(source);
    if (!names) {
      names = new Map();
      this.bySource.set(source, names);
    }
    let entries = names.get(name);
    if (!entries) {
      entries = new Map();
      names.set(name, entries);
    }
    let added = false;
    for (const ip of ips) {
      if (!entries.delete(ip)) added = true; // re-insert: Map order = oldest first
      entries.set(ip, { expiresAt: now + eff * 1000, seenAt: now, ttl: eff });
    }
    let evicted = false;
    while (entries.size > this.opts.maxIpsPerName) {
      entries.delete(entries.keys().next().value as string);
      evicted = true;
    }
    // A refresh of known IPs only moves their expiry: the selectable set is unchanged.
    return added || evicted ? this.publish() : null;
  }

  /** Removes IPs whose TTL plus grace has passed; returns how many went. */
  async sweep(): Promise<number> {
    const now = this.now();
    let removed = 0;
    for (const [source, names] of this.bySource) {
      for (const [name, entries] of names) {
        for (const [ip, e] of entries) {
          if (e.expiresAt + this.opts.graceMs <= now) {
            entries.delete(ip);
            removed++;
          }
        }
        if (entries.size === 0) names.delete(name);
      }
      if (names.size === 0) this.bySource.delete(source);
    }
    if (removed > 0) await this.publish();
    return removed;
  }

  /** Empties the cache (`tendril fqdn cache clean`); returns how many IP entries went. */
  async clean(): Promise<number> {
    let n = 0;
    for (const names of this.bySource.values()) for (const entries of names.values()) n += entries.size;
    this.bySource.clear();
    await this.publish();
    return n;
  }

  /** Rows for `tendril fqdn cache list`, sorted by name then source. */
  list(): FqdnCacheRow[] {
    const now = this.now();
    const rows: FqdnCacheRow[] = [];
    for (const [source, names] of this.bySource) {
      for (const [name, entries] of names) {
        rows.push({
          name,
          source,
          ips: [...entries].map(([ip, e]) => ({ ip, ttl: e.ttl, ttlLeftSeconds: Math.max(0, Math.ceil((e.expiresAt - now) / 1000)), expiresAt: new Date(e.expiresAt).toISOString() })),
        });
      }
    }
    return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  }

  private publish(): Promise<void> {
    this.scheduled ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        this.scheduled = null;
        this.publishNow().then(resolve, reject);
      }),
    );
    return this.scheduled;
  }

  private async publishNow(): Promise<void> {
    const union = new Map<string, Set<string>>();
    for (const names of this.bySource.values()) {
      for (const [name, entries] of names) {
        let s = union.get(name);
        if (!s) {
          s = new Set();
          union.set(name, s);
        }
        for (const ip of entries.keys()) s.add(ip);
      }
    }
    const next = new Map([...union].map(([n, s]) => [n, [...s].sort()] as [string, string[]]));
    if (sameUnion(this.union, next)) return;
    this.union = next;
    await Promise.all(this.listeners.map((fn) => fn(next)));
  }
}

function sameUnion(a: ReadonlyMap<string, readonly string[]>, b: ReadonlyMap<string, readonly string[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.length !== v.length || w.some((x, i) => x !== v[i])) return false;
  }
  return true;
}
