/**
 * Service table sync (kube-proxy replacement): {ClusterIP, port, proto} -> backend slots, updated
 * incrementally. Each service owns a stable svc_id; backends live in slots 0..count-1 of
 * tendril_backend. Order of writes keeps the BPF side consistent at every instant:
 *   grow:   write new slots, then raise count;   shrink: lower count, then delete old slots.
 * A service with no backends stays in the map with count 0, so connect() gets ECONNREFUSED.
 */
import type { SvcKey } from '../native/index.js';
import type { MapSource } from './map-source.js';
import { PROTO } from '../native/index.js';

export interface ServiceSpec {
  vip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  backends: Array<{ ip: string; port: number }>;
}

interface Installed {
  svcId: number;
  backends: string[];
}

const keyOf = (s: Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>): string => `${s.vip}:${s.port}/${s.protocol}`;

export class ServiceSync {
  private readonly installed = new Map<string, Installed>();
  private nextId = 1;
  private readonly freeIds: number[] = [];
  /** Map writes done so far (for tests of incrementality). */
  writes = 0;

  constructor(private readonly obj: MapSource) {}

  get size(): number {
    return this.installed.size;
  }

  /** Installs or updates one service, touching only what changed. */
  upsert(s: ServiceSpec): void {
    const svcMap = this.obj.map('tendril_svc');
    const beMap = this.obj.map('tendril_backend');
    const key: SvcKey = { vip: s.vip, port: s.port, proto: PROTO[s.protocol] };
    const k = keyOf(s);
    let cur = this.installed.get(k);
    const next = s.backends.map((b) => `${b.ip}:${b.port}`);
    if (!cur) {
      cur = { svcId: this.freeIds.pop() ?? this.nextId++, backends: [] };
      this.installed.set(k, cur);
      svcMap.set(key, { svcId: cur.svcId, count: 0, flags: 0 });
      this.writes++;
    }
    const svcId = cur.svcId;
    const old = cur.backends;
    if (next.length < old.length) {
      svcMap.set(key, { svcId, count: next.length, flags: 0 });
      this.writes++;
    }
    for (let i = 0; i < next.length; i++) {
      if (old[i] === next[i]) continue;
      const b = s.backends[i]!;
      beMap.set({ svcId, slot: i }, { ip: b.ip, port: b.port });
      this.writes++;
    }
    for (let i = next.length; i < old.length; i++) {
      beMap.delete({ svcId, slot: i });
      this.writes++;
    }
    if (next.length > old.length) {
      svcMap.set(key, { svcId, count: next.length, flags: 0 });
      this.writes++;
    }
    cur.backends = next;
  }

  remove(s: Pick<ServiceSpec, 'vip' | 'port' | 'protocol'>): boolean {
    const k = keyOf(s);
    const cur = this.installed.get(k);
    if (!cur) return false;
    this.obj.map('tendril_svc').delete({ vip: s.vip, port: s.port, proto: PROTO[s.protocol] });
    for (let i = 0; i < cur.backends.length; i++) this.obj.map('tendril_backend').delete({ svcId: cur.svcId, slot: i });
    this.writes += 1 + cur.backends.length;
    this.installed.delete(k);
    this.freeIds.push(cur.svcId);
    return true;
  }

  /** Makes the table equal to `all`: upserts changed services, removes the ones not listed. */
  sync(all: ServiceSpec[]): void {
    const want = new Set(all.map(keyOf));
    for (const k of [...this.installed.keys()]) {
      if (want.has(k)) continue;
      const m = /^(.*):(\d+)\/(TCP|UDP)$/.exec(k)!;
      this.remove({ vip: m[1]!, port: Number(m[2]), protocol: m[3] as 'TCP' | 'UDP' });
    }
    for (const s of all) this.upsert(s);
  }
}
