/**
 * Mechanical layout check (STYLE §8): every codec in codecs.ts must match the struct of the same
 * name in the BTF of the built objects (size, member names, member offsets), and the enum
 * mirrors must match bpf/include/tendril.h. Needs `npm run build:bpf` (bpftool, clang).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as codecs from './codecs.js';
import type { Codec } from './struct.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const objects = ['sock', 'tc', 'alignchecker'].map((n) => `${root}bpf/build/${n}.bpf.o`);

interface BtfMember { name: string; bits_offset: number }
interface BtfType { kind: string; name?: string; size?: number; members?: BtfMember[] }

function btfStructs(): Map<string, BtfType> {
  const out = new Map<string, BtfType>();
  for (const o of objects) {
    assert.ok(existsSync(o), `${o} is missing: run \`npm run build:bpf\` first`);
    const j = JSON.parse(execFileSync('bpftool', ['btf', 'dump', 'file', o, '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { types: BtfType[] };
    for (const t of j.types) if (t.kind === 'STRUCT' && t.name?.startsWith('td_')) out.set(t.name, t);
  }
  return out;
}

const structCodecs: Array<Codec<unknown>> = (Object.values(codecs) as unknown[]).filter(
  (c): c is Codec<unknown> => typeof c === 'object' && c !== null && 'cName' in c && String((c as Codec<unknown>).cName).startsWith('td_'),
);

test('every TS codec matches the BTF layout of its C struct (size, names, offsets)', () => {
  const btf = btfStructs();
  assert.ok(structCodecs.length >= 14, `expected the full codec table, got ${structCodecs.length}`);
  for (const c of structCodecs) {
    const t = btf.get(c.cName);
    assert.ok(t, `struct ${c.cName} not found in the BTF of ${objects.join(', ')} (is it used by a map or program?)`);
    assert.equal(c.size, t.size, `${c.cName}: size TS ${c.size} vs BTF ${t.size}`);
    const btfMembers = (t.members ?? []).map((m) => `${m.name}@${m.bits_offset / 8}`);
    const tsMembers = c.fields.map((f) => `${f.cName}@${f.offset}`);
    assert.deepEqual(tsMembers, btfMembers, `${c.cName}: members differ`);
  }
});

test('every td_ struct in the BTF has a TS codec', () => {
  const names = new Set(structCodecs.map((c) => c.cName));
  const missing = [...btfStructs().keys()].filter((n) => !names.has(n) && n !== 'td_pkt');
  assert.deepEqual(missing, []);
});

test('enum mirrors match bpf/include/tendril.h', () => {
  const h = readFileSync(`${root}bpf/include/tendril.h`, 'utf8');
  const val = (name: string): number => {
    const m = new RegExp(`\\b${name}\\s*=\\s*(\\d+)`).exec(h);
    assert.ok(m, `${name} not found in tendril.h`);
    return Number(m[1]);
  };
  const table: Array<[string, Record<string, number>]> = [
    ['TD_VERDICT_', codecs.VERDICT],
    ['TD_DROP_', codecs.DROP_REASON],
    ['TD_EP_', codecs.EP_FLAGS],
    ['TD_DIR_', codecs.DIR],
    ['TD_CFG_', codecs.CONFIG_FLAGS],
    ['TD_ID_', codecs.RESERVED_IDENTITY],
  ];
  for (const [prefix, obj] of table) for (const [k, v] of Object.entries(obj)) assert.equal(v, val(prefix + k), prefix + k);
  // TD_STAT_* are sequential from TD_STAT_LB_CONNECT = 0 in declaration order.
  const stats = [...h.matchAll(/\bTD_STAT_([A-Z_]+)\s*(?:=\s*\d+)?,/g)].map((m) => m[1]).filter((n) => n !== 'MAX');
  assert.deepEqual(stats, Object.keys(codecs.STAT));
  assert.deepEqual(Object.values(codecs.STAT), stats.map((_, i) => i));
});

test('codec round trip at every field, including addresses in network order', () => {
  const k = { vip: '10.96.0.10', port: 80, proto: 6 };
  const b = codecs.svcKey.encode(k);
  assert.deepEqual([...b], [10, 96, 0, 10, 80, 0, 6, 0]);
  assert.deepEqual(codecs.svcKey.decode(b), k);
  const ev = {
    tsNs: 123n, saddr: '10.250.1.2', daddr: '10.250.2.2', sport: 40000, dport: 9090, proto: 6, reason: 133,
    dir: 1, srcIdentity: 1001, dstIdentity: 1002, policyId: 7, ifindex: 3,
  };
  assert.deepEqual(codecs.dropEvent.decode(codecs.dropEvent.encode(ev)), ev);
  assert.throws(() => codecs.svcKey.encode({ vip: '10.96.0', port: 80, proto: 6 }), /not an IPv4 address/);
  assert.throws(() => codecs.dropEvent.decode(Buffer.alloc(8)), /need 40 bytes/);
});
