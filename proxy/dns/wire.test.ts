/**
 * The DNS wire reader on hand-made and fuzzed messages (docs/dns.md "Admission"): every row is
 * its own subtest; random mutations of valid queries never throw and never admit a name that
 * runs past the data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { admitQuery, buildQuery, denyReply, errorReply, parseResponse, RCODE } from './wire.js';

const q = (): Buffer => buildQuery(0x1234, 'api.stripe.com', 1);

function patch(buf: Buffer, at: number, bytes: number[]): Buffer {
  const out = Buffer.from(buf);
  bytes.forEach((b, i) => (out[at + i] = b));
  return out;
}

function label(bytes: number[]): Buffer {
  return Buffer.from([bytes.length, ...bytes]);
}

function rawQuery(nameBytes: Buffer, tail = Buffer.from([0, 1, 0, 1])): Buffer {
  const head = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([head, nameBytes, tail]);
}

type Expect = { kind: 'drop' } | { kind: 'reject'; rcode: number } | { kind: 'query'; text: string; normalized: string; ldh: boolean };

const rows: { name: string; msg: Buffer; want: Expect }[] = [
  { name: 'valid query', msg: q(), want: { kind: 'query', text: 'api.stripe.com.', normalized: 'api.stripe.com.', ldh: true } },
  { name: 'case kept, normalized lower', msg: buildQuery(1, 'API.Stripe.COM', 1), want: { kind: 'query', text: 'API.Stripe.COM.', normalized: 'api.stripe.com.', ldh: true } },
  { name: 'with EDNS OPT', msg: buildQuery(1, 'api.stripe.com', 1, { edns: 1232 }), want: { kind: 'query', text: 'api.stripe.com.', normalized: 'api.stripe.com.', ldh: true } },
  { name: 'root name', msg: buildQuery(1, '.', 2), want: { kind: 'query', text: '.', normalized: '.', ldh: true } },
  { name: '5 bytes: dropped', msg: Buffer.from([1, 2, 3, 4, 5]), want: { kind: 'drop' } },
  { name: 'QR=1: dropped', msg: patch(q(), 2, [0x81]), want: { kind: 'drop' } },
  { name: 'opcode STATUS: NOTIMP', msg: patch(q(), 2, [0x11]), want: { kind: 'reject', rcode: RCODE.NOTIMP } },
  { name: 'opcode UPDATE: NOTIMP', msg: patch(q(), 2, [0x29]), want: { kind: 'reject', rcode: RCODE.NOTIMP } },
  { name: 'QDCOUNT 0: FORMERR', msg: patch(q(), 4, [0, 0]), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'QDCOUNT 2: FORMERR', msg: patch(q(), 4, [0, 2]), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'ANCOUNT 2: FORMERR', msg: patch(q(), 6, [0, 2]), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'ARCOUNT 3: FORMERR', msg: patch(q(), 10, [0, 3]), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'ARCOUNT 1 without a record: FORMERR', msg: patch(q(), 10, [0, 1]), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'pointer in the question name: FORMERR', msg: rawQuery(Buffer.from([3, 0x61, 0x62, 0x63, 0xc0, 0x0c])), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'label length 64: FORMERR', msg: rawQuery(Buffer.concat([label(Array(64).fill(0x61)), Buffer.from([0])])), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'label type 0x80: FORMERR', msg: rawQuery(Buffer.from([0x81, 0x61, 0])), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'truncated name: FORMERR', msg: Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([10, 0x61, 0x62])]), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'missing QTYPE/QCLASS: FORMERR', msg: rawQuery(Buffer.from([1, 0x61, 0]), Buffer.from([0, 1])), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'name over 255 octets: FORMERR', msg: rawQuery(Buffer.concat([...Array(5).fill(label(Array(60).fill(0x61))), Buffer.from([0])])), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  { name: 'trailing bytes: FORMERR', msg: Buffer.concat([q(), Buffer.from([0, 0, 0])]), want: { kind: 'reject', rcode: RCODE.FORMERR } },
  {
    name: 'a label containing a dot is one label',
    msg: rawQuery(Buffer.concat([label([0x61, 0x2e, 0x62]), label([0x63, 0x6f, 0x6d]), Buffer.from([0])])),
    want: { kind: 'query', text: 'a\\046b.com.', normalized: 'a\\046b.com.', ldh: false },
  },
  { name: 'byte 0xff in a label is escaped', msg: rawQuery(Buffer.concat([label([0xff]), Buffer.from([0])])), want: { kind: 'query', text: '\\255.', normalized: '\\255.', ldh: false } },
];

for (const row of rows) {
  test(`admitQuery: ${row.name}`, () => {
    const a = admitQuery(row.msg);
    assert.equal(a.kind, row.want.kind, JSON.stringify(a));
    if (a.kind === 'reject' && row.want.kind === 'reject') {
      assert.equal(a.rcode, row.want.rcode);
      const r = errorReply(row.msg, a.rcode);
      assert.equal(r.length, 12);
      assert.equal(r.readUInt16BE(0), row.msg.readUInt16BE(0));
      assert.equal(r[2]! & 0x80, 0x80);
      assert.equal(r[3]! & 0xf, a.rcode);
      assert.equal(r.readUInt32BE(4) + r.readUInt32BE(8), 0);
    }
    if (a.kind === 'query' && row.want.kind === 'query') {
      assert.equal(a.query.name.text, row.want.text);
      assert.equal(a.query.name.normalized, row.want.normalized);
      assert.equal(a.query.name.ldh, row.want.ldh);
    }
  });
}

test('denyReply: same ID, QR, RD/CD copied, question bytes copied with case, no other records', () => {
  const msg = patch(buildQuery(0xbeef, 'GooGle.com', 28, { edns: 4096 }), 3, [0x30]); // AD + CD set
  const a = admitQuery(msg);
  assert.equal(a.kind, 'query');
  if (a.kind !== 'query') return;
  const r = denyReply(msg, a.query, RCODE.REFUSED);
  assert.equal(r.readUInt16BE(0), 0xbeef);
  assert.equal(r[2], 0x81); // QR + RD
  assert.equal(r[3], 0x10 | 5); // CD + REFUSED
  assert.deepEqual([r.readUInt16BE(4), r.readUInt16BE(6), r.readUInt16BE(8), r.readUInt16BE(10)], [1, 0, 0, 0]);
  assert.deepEqual(r.subarray(12), msg.subarray(12, a.query.questionEnd));
  assert.ok(r.subarray(12).toString('latin1').includes('GooGle'));
});

test('parseResponse: backward pointers only, bounded; CNAME chain from the question', () => {
  // Response: question files.example A; answers: files CNAME api (ptr), api A 1.2.3.4, other A 9.9.9.9 (off-chain).
  const head = Buffer.from([0, 7, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
  const qn = Buffer.from([5, ...Buffer.from('files'), 7, ...Buffer.from('example'), 0]);
  const question = Buffer.concat([qn, Buffer.from([0, 1, 0, 1])]);
  const cnameData = Buffer.from([3, ...Buffer.from('api'), 0xc0, 12 + 6]); // api + pointer to "example"
  const rr1 = Buffer.concat([Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, cnameData.length]), cnameData]);
  const apiOffset = 12 + question.length + 12; // where the CNAME data (api...) starts
  const rr2 = Buffer.from([0xc0, apiOffset, 0, 1, 0, 1, 0, 0, 0, 20, 0, 4, 1, 2, 3, 4]);
  const ok = parseResponse(Buffer.concat([head, question, rr1, rr2]));
  assert.ok(ok);
  assert.deepEqual(ok.ips, ['1.2.3.4']);
  assert.equal(ok.ttl, 20);
  assert.deepEqual(ok.cnames, ['api.example.']);
  assert.equal(ok.chainOk, true);
  // A forward pointer (to itself) is malformed.
  const self = Buffer.from(rr2);
  const loop = Buffer.concat([head, question, rr1, Buffer.concat([Buffer.from([0xc0, 12 + question.length + rr1.length]), self.subarray(2)])]);
  assert.equal(parseResponse(loop), null);
  // Off-chain owner: chainOk false (nothing may be learned).
  const other = Buffer.concat([head, question, Buffer.from([3, ...Buffer.from('zzz'), 0, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 9, 9, 9, 9]), rr2]);
  const off = parseResponse(other);
  assert.ok(off);
  assert.equal(off.chainOk, false);
});

test('fuzz: 20,000 mutated and random messages never throw; admitted names stay inside the data', () => {
  const seeds = [q(), buildQuery(9, 'a.b.c.example', 28, { edns: 1232 }), buildQuery(3, 'x', 16)];
  for (let i = 0; i < 20_000; i++) {
    let m: Buffer;
    if (i % 4 === 0) m = randomBytes(1 + (i % 80));
    else {
      m = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + (i % 5);
      for (let k = 0; k < flips; k++) m[(i * 7919 + k * 104729) % m.length] = randomBytes(1)[0]!;
      if (i % 3 === 0) m = m.subarray(0, (i * 31) % (m.length + 1));
    }
    const a = admitQuery(m);
    if (a.kind === 'query') {
      assert.ok(a.query.questionEnd <= m.length);
      assert.ok(a.query.name.text.length > 0);
    }
    parseResponse(m);
  }
});
