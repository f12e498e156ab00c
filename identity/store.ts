/**
 * The SVIDs and bundles a node holds, fed by SPIFFE sources (docs/identity.md "Client
 * behaviour"). Each source replaces its whole set at once (every message is the complete
 * state); an SVID absent from the new set is removed, a changed one is a rotation. An SVID is
 * kept while its source is disconnected, but only until its notAfter: then it is removed and the
 * workload fails closed.
 */
import { EventEmitter } from 'node:events';
import type { X509Certificate } from 'node:crypto';
import type { Svid } from './svid.js';

export type SvidChange =
  | { kind: 'added'; svid: Svid }
  | { kind: 'rotated'; svid: Svid; previous: Svid }
  | { kind: 'removed'; svid: Svid; reason: 'withdrawn' | 'expired' };

export interface StoreEvents {
  change: [SvidChange];
  bundles: [];
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class SvidStore extends EventEmitter<StoreEvents> {
  private readonly sources = new Map<string, Map<string, Svid>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private bundleMap = new Map<string, X509Certificate[]>();
  /** Count of rotations seen (an SVID replaced by one with another serial). */
  rotations = 0;
  /** Bumped on every bundle update (part of TLS context cache keys). */
  bundleVersion = 0;

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  /** Replaces everything `source` provides; emits added/rotated/removed for the difference. */
  replace(source: string, svids: readonly Svid[]): void {
    const prev = this.sources.get(source) ?? new Map<string, Svid>();
    const next = new Map<string, Svid>();
    for (const s of svids) if (s.notAfter.getTime() > this.now() && !next.has(s.spiffeId)) next.set(s.spiffeId, s);
    this.sources.set(source, next);
    for (const [id, old] of prev) {
      if (!next.has(id)) {
        this.clearTimer(source, id);
        this.emit('change', { kind: 'removed', svid: old, reason: 'withdrawn' });
      }
    }
    for (const [id, s] of next) {
      const old = prev.get(id);
      if (old && old.serial === s.serial && old.certPem === s.certPem) continue;
      this.arm(source, s);
      if (old) {
        this.rotations++;
        this.emit('change', { kind: 'rotated', svid: s, previous: old });
      } else this.emit('change', { kind: 'added', svid: s });
    }
  }

  /** Drops a source entirely (its SVIDs are withdrawn). */
  drop(source: string): void {
    this.replace(source, []);
    this.sources.delete(source);
  }

  setBundles(bundles: ReadonlyMap<string, X509Certificate[]>): void {
    this.bundleMap = new Map(bundles);
    this.bundleVersion++;
    this.emit('bundles');
  }

  get bundles(): ReadonlyMap<string, readonly X509Certificate[]> {
    return this.bundleMap;
  }

  /** The SVID for a SPIFFE ID, if held and not expired. */
  get(spiffeId: string): Svid | undefined {
    const t = this.now();
    for (const m of this.sources.values()) {
      const s = m.get(spiffeId);
      if (s && s.notAfter.getTime() > t) return s;
    }
    return undefined;
  }

  list(): Svid[] {
    const out = new Map<string, Svid>();
    for (const m of this.sources.values()) for (const s of m.values()) if (!out.has(s.spiffeId)) out.set(s.spiffeId, s);
    return [...out.values()];
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private arm(source: string, s: Svid): void {
    this.clearTimer(source, s.spiffeId);
    const key = `${source}\u0000${s.spiffeId}`;
    const fire = (): void => {
      const left = s.notAfter.getTime() - this.now();
      if (left > 0) {
        const t = setTimeout(fire, Math.min(left + 1, MAX_TIMER_MS));
        t.unref();
        this.timers.set(key, t);
        return;
      }
      this.timers.delete(key);
      const m = this.sources.get(source);
      if (m?.get(s.spiffeId) === s) {
        m.delete(s.spiffeId);
        this.emit('change', { kind: 'removed', svid: s, reason: 'expired' });
      }
    };
    const t = setTimeout(fire, Math.min(Math.max(0, s.notAfter.getTime() - this.now() + 1), MAX_TIMER_MS));
    t.unref();
    this.timers.set(key, t);
  }

  private clearTimer(source: string, id: string): void {
    const key = `${source}\u0000${id}`;
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }
}
