/**
 * What the sync classes need from a loaded object: typed maps by name. `BpfObject` satisfies it;
 * unit tests use `MemoryMaps` (an in-memory fake that records every write in order).
 */
import type { KeyOf, MapName, ValueOf } from '../native/index.js';
import { MAPS } from '../native/index.js';

export interface TypedMapLike<K, V> {
  get(k: K): V | null;
  set(k: K, v: V, flags?: number): void;
  delete(k: K): boolean;
  keys(): K[];
}

export interface MapSource {
  map<M extends MapName>(name: M): TypedMapLike<KeyOf<M>, ValueOf<M>>;
}

/** In-memory maps keyed by the encoded key bytes (so key identity matches the kernel's). */
export class MemoryMaps implements MapSource {
  readonly log: string[] = [];
  private readonly data = new Map<string, Map<string, Buffer>>();

  map<M extends MapName>(name: M): TypedMapLike<KeyOf<M>, ValueOf<M>> {
    const spec = MAPS[name] as unknown as { key: { encode(k: unknown): Buffer; decode(b: Buffer): unknown }; value: { encode(v: unknown): Buffer; decode(b: Buffer): unknown } };
    let m = this.data.get(name);
    if (!m) this.data.set(name, (m = new Map()));
    const store = m;
    const log = this.log;
    return {
      get: (k) => {
        const b = store.get(spec.key.encode(k).toString('hex'));
        return b ? (spec.value.decode(b) as ValueOf<M>) : null;
      },
      set: (k, v, flags = 0) => {
        const hk = spec.key.encode(k).toString('hex');
        if (flags === 1 && store.has(hk)) throw Object.assign(new Error('EEXIST'), { errno: 17 });
        store.set(hk, spec.value.encode(v));
        log.push(`set ${name} ${JSON.stringify(k)} ${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x))}`);
      },
      delete: (k) => {
        const ok = store.delete(spec.key.encode(k).toString('hex'));
        log.push(`delete ${name} ${JSON.stringify(k)}`);
        return ok;
      },
      keys: () => [...store.keys()].map((h) => spec.key.decode(Buffer.from(h, 'hex')) as KeyOf<M>),
    };
  }
}
