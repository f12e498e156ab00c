/**
 * The Kafka codec against bytes real clients sent (golden fixtures captured from kafkajs and kcat,
 * test/fixtures/kafka/, by scripts/capture-kafka-fixtures.ts): every frame decodes strictly, names
 * the topics its bytes carry, and re-encodes to the identical bytes; deny responses decode in
 * kafkajs's own response parsers as the authorization error; flexible versions (which neither
 * client here sends) against hand-assembled bytes; ApiVersions clamping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { isTendrilError } from '../../core/index.js';
import { API_TABLES, clampApiVersions, decodeRequest, denyResponse, encodeStruct, Reader, Writer, isFlexible } from './index.js';

const FIX = new URL('../../test/fixtures/kafka/', import.meta.url).pathname;
interface Fixture {
  file: string;
  client: string;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  topics: string[];
}
const fixtures = JSON.parse(readFileSync(`${FIX}index.json`, 'utf8')) as Fixture[];
const frame = (f: Fixture): Buffer => readFileSync(`${FIX}${f.file}`);

test('golden fixtures from kafkajs and kcat: strict decode, topics, byte-identical re-encode', async (t) => {
  assert.ok(fixtures.length >= 20, 'fixtures missing');
  for (const f of fixtures) {
    await t.test(f.file, () => {
      const bytes = frame(f);
      const d = decodeRequest(bytes);
      assert.equal(d.header.apiKey, f.apiKey);
      assert.equal(d.header.apiVersion, f.apiVersion);
      assert.equal(d.header.correlationId, f.correlationId);
      assert.deepEqual([...d.topics].sort(), [...f.topics].sort());
      const flex = isFlexible(d.table, f.apiVersion);
      const w = new Writer();
      w.raw(bytes.subarray(0, d.header.bodyOffset));
      if (flex) w.uvarint(0);
      encodeStruct(d.table.request, f.apiVersion, flex, w, d.body);
      assert.deepEqual(w.done(), bytes);
    });
  }
});

const require = createRequire(import.meta.url);
const KAFKAJS_DIR: Record<number, string> = {
  0: 'produce', 1: 'fetch', 2: 'listOffsets', 3: 'metadata', 8: 'offsetCommit', 9: 'offsetFetch', 10: 'findCoordinator',
  11: 'joinGroup', 13: 'leaveGroup', 14: 'syncGroup', 19: 'createTopics', 20: 'deleteTopics',
};
const EXPECTED_TYPE: Record<number, string> = { 10: 'GROUP_AUTHORIZATION_FAILED', 11: 'GROUP_AUTHORIZATION_FAILED', 13: 'GROUP_AUTHORIZATION_FAILED', 14: 'GROUP_AUTHORIZATION_FAILED' };

test('deny responses decode in kafkajs as the authorization error, for every kafkajs fixture with a deny shape', async (t) => {
  for (const f of fixtures.filter((x) => x.client === 'kafkajs' && KAFKAJS_DIR[x.apiKey] !== undefined)) {
    await t.test(f.file, async () => {
      const d = decodeRequest(frame(f));
      const deny = denyResponse(d);
      assert.ok(deny, 'no deny response');
      assert.equal(deny.frame.readInt32BE(0), deny.frame.length - 4);
      assert.equal(deny.frame.readInt32BE(4), f.correlationId);
      const mod = require(`kafkajs/src/protocol/requests/${KAFKAJS_DIR[f.apiKey]}/v${f.apiVersion}/response`) as { decode(b: Buffer): Promise<unknown>; parse(d: unknown): Promise<unknown> };
      const decoded = await mod.decode(deny.frame.subarray(8));
      const want = EXPECTED_TYPE[f.apiKey] ?? 'TOPIC_AUTHORIZATION_FAILED';
      if (f.apiKey === 3 && f.topics.length === 0) {
        // An all-topics Metadata deny carries no topic to put the error on: an empty listing.
        assert.deepEqual((decoded as { topicMetadata: unknown[] }).topicMetadata, []);
        return;
      }
      await assert.rejects(mod.parse(decoded), (err: { type?: string; errors?: Array<{ type?: string }> }) => {
        // CreateTopics reports per-topic errors in an aggregate.
        assert.equal(err.type ?? err.errors?.[0]?.type, want);
        return true;
      });
    });
  }
});

test('deny of produce with acks=0 has no response (the proxy closes)', () => {
  const f = fixtures.find((x) => x.file === 'kafkajs-produce-v7.bin')!;
  const bytes = Buffer.from(frame(f));
  // Acks sits right after the nullable TransactionalId (v3+): int16 length -1 in kafkajs frames.
  const d = decodeRequest(bytes);
  assert.equal(d.body.TransactionalId, null);
  const acksAt = d.header.bodyOffset + 2;
  assert.equal(bytes.readInt16BE(acksAt), d.body.Acks);
  bytes.writeInt16BE(0, acksAt);
  assert.equal(decodeRequest(bytes).body.Acks, 0);
});

/** Hand-assembled flexible request bytes (compact strings/arrays, tagged fields, header v2). */
function flexHeader(key: number, version: number, corr: number, client: string): number[] {
  const c = [...Buffer.from(client)];
  return [key >> 8, key & 0xff, version >> 8, version & 0xff, 0, 0, 0, corr, 0, c.length, ...c, 0 /* header tags */];
}
const cstr = (s: string): number[] => [s.length + 1, ...Buffer.from(s)];

test('flexible versions: Metadata v9 and v12, Produce v9, Fetch v12, OffsetFetch v8 from hand-assembled bytes', async (t) => {
  const rows: Array<{ name: string; bytes: number[]; topics: string[]; all?: boolean }> = [
    { name: 'metadata v9 two topics', bytes: [...flexHeader(3, 9, 7, 'c'), 3, ...cstr('a.b'), 0, ...cstr('c'), 0, 1, 0, 0, 0], topics: ['a.b', 'c'] },
    { name: 'metadata v9 null topics = all', bytes: [...flexHeader(3, 9, 7, 'c'), 0, 1, 0, 0, 0], topics: [], all: true },
    {
      name: 'metadata v12 topic id + name, unknown tag skipped',
      bytes: [...flexHeader(3, 12, 7, 'c'), 2, ...new Array(16).fill(0), ...cstr('t1'), 1, 9, 2, 0xaa, 0xbb, 1, 0, 0],
      topics: ['t1'],
    },
    {
      name: 'produce v9',
      bytes: [...flexHeader(0, 9, 9, 'p'), 0 /* null txn id */, 0xff, 0xff, 0, 0, 0x75, 0x30, 2, ...cstr('orders'), 2, 0, 0, 0, 0, 1 /* empty records */, 0, 0, 0],
      topics: ['orders'],
    },
    {
      name: 'fetch v12',
      bytes: [
        ...flexHeader(1, 12, 3, 'f'), 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0xf4, 0, 0, 0, 1, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        2, ...cstr('orders'), 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0,
        1 /* forgotten: empty */, 1 /* rack "" */, 0,
      ],
      topics: ['orders'],
    },
    { name: 'offsetfetch v8 groups, null topics = all', bytes: [...flexHeader(9, 8, 4, 'o'), 2, ...cstr('g'), 0, 0, 0, 0], topics: [], all: true },
  ];
  for (const r of rows) {
    await t.test(r.name, () => {
      const d = decodeRequest(Buffer.from(r.bytes));
      assert.deepEqual(d.topics, r.topics);
      assert.equal(d.allTopics, r.all ?? false);
    });
  }
});

test('flexible deny responses round-trip through the response tables', async (t) => {
  const produce = Buffer.from([...flexHeader(0, 9, 9, 'p'), 0, 0xff, 0xff, 0, 0, 0x75, 0x30, 2, ...cstr('orders'), 2, 0, 0, 0, 3, 1, 0, 0, 0]);
  const d = decodeRequest(produce);
  const deny = denyResponse(d)!;
  const { Reader, decodeStruct, readTagged } = await import('./index.js');
  const r = new Reader(deny.frame, 8);
  readTagged([], 0, r, {});
  const body = decodeStruct(API_TABLES.get(0)!.response, 9, true, r);
  assert.equal(r.remaining, 0);
  const part = ((body.Responses as any[])[0].PartitionResponses as any[])[0];
  assert.equal(part.Index, 3);
  assert.equal(part.ErrorCode, 29);
  assert.equal(part.BaseOffset, -1n);
  await t.test('fetch deny records are zero-length, not null', () => {
    const fetch = decodeRequest(Buffer.from(fixtures.find((x) => x.file === 'kcat-fetch-v11.bin') ? frame(fixtures.find((x) => x.file === 'kcat-fetch-v11.bin')!) : Buffer.alloc(0)));
    const fr = denyResponse(fetch)!;
    const rr = new Reader(fr.frame, 8);
    const fb = decodeStruct(API_TABLES.get(1)!.response, 11, false, rr);
    const p = ((fb.Responses as any[])[0].Partitions as any[])[0];
    assert.equal(p.ErrorCode, 29);
    assert.deepEqual(p.Records, Buffer.alloc(0));
  });
});

test('ApiVersions responses are clamped in place to the tables (Produce/Fetch stop at 12)', async (t) => {
  const entries: Array<[number, number, number]> = [[0, 3, 13], [1, 4, 17], [3, 0, 12], [18, 0, 4], [60, 0, 1]];
  for (const flex of [false, true]) {
    await t.test(flex ? 'v3 (flexible body)' : 'v2', () => {
      const w = new Writer();
      w.int32(42).int16(0);
      w.length(entries.length, flex, true);
      for (const [k, lo, hi] of entries) {
        w.int16(k).int16(lo).int16(hi);
        if (flex) w.uvarint(0);
      }
      w.int32(0);
      if (flex) w.uvarint(0);
      const buf = Buffer.from(w.done());
      clampApiVersions(buf, flex ? 3 : 2);
      const r = new Reader(buf, 6);
      const n = r.arrayCount(flex, false, 6, 'ApiKeys');
      const got: Array<[number, number, number]> = [];
      for (let i = 0; i < n; i++) {
        got.push([r.int16(), r.int16(), r.int16()]);
        if (flex) r.uvarint();
      }
      assert.deepEqual(got, [[0, 3, 12], [1, 4, 12], [3, 0, 12], [18, 0, 4], [60, 0, 1]]);
    });
  }
});

test('codec fuzz: 20000 random and mutated frames only ever fail with a typed Kafka error', () => {
  const seed = Number(process.env.TENDRIL_FUZZ_SEED ?? Date.now() % 0xffffffff);
  let x = seed >>> 0 || 1;
  const rand = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
  const bases = fixtures.map(frame);
  let decoded = 0;
  for (let i = 0; i < 20000; i++) {
    let b: Buffer;
    if (i % 5 === 4) b = Buffer.from(Array.from({ length: Math.floor(rand() * 80) }, () => Math.floor(rand() * 256)));
    else {
      b = Buffer.from(bases[Math.floor(rand() * bases.length)]!);
      for (let k = 0, n = 1 + Math.floor(rand() * 3); k < n; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      if (rand() < 0.3) b = b.subarray(0, Math.floor(rand() * b.length));
    }
    try {
      const d = decodeRequest(b);
      decoded++;
      denyResponse(d);
    } catch (err) {
      if (!isTendrilError(err) || (err.code !== 'TND_KAFKA_TRUNCATED' && err.code !== 'TND_KAFKA_MALFORMED')) {
        assert.fail(`seed ${seed}, iteration ${i}: untyped failure ${String(err)} on ${b.toString('hex')}`);
      }
    }
  }
  assert.ok(decoded > 0 && decoded < 20000, `seed ${seed}: ${decoded} decoded`);
});
