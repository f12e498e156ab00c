/**
 * Malformed and truncated Kafka frames through the proxy (in process, policy `kafka: [{}]`: allow
 * every request, parse strictly): each row is sent on its own connection, which the proxy must
 * close without answering and without forwarding a byte; then a fuzz loop of mutated client frames
 * (seeded, the seed is printed on failure): the proxy survives, and every frame the broker received
 * is one the codec decodes strictly and byte-identical to one that was sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { createEngine, loadPolicies, loadWorld } from '../../../policy/index.js';
import { ExplicitRedirectSource, startProxy } from '../../../proxy/index.js';
import { decodeRequest } from '../../../proxy/kafka/index.js';
import { NULL_SINK } from '../../../observe/index.js';
import { KafkaTestBroker } from '../../helpers/kafka-broker.js';
import { kafkaFrom, writeKafkaFiles } from './harness.js';

const SUBNET = 201;
const FIX = new URL('../../fixtures/kafka/', import.meta.url).pathname;
const fixture = (name: string): Buffer => readFileSync(`${FIX}${name}`);

const ALLOW_ALL = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: kafka-any, namespace: orders}
spec:
  endpointSelector: {matchLabels: {app: kafka}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: order-processor}}]
    toPorts:
    - ports: [{port: "9092", protocol: TCP}]
      rules:
        kafka: [{}]
`;

const sized = (body: Buffer): Buffer => {
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
};

async function setup(t: import('node:test').TestContext): Promise<{ broker: KafkaTestBroker; addr: { host: string; port: number }; src: string }> {
  const files = writeKafkaFiles(SUBNET);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const policy = join(files.dir, 'allow-all.cnp.yaml');
  writeFileSync(policy, ALLOW_ALL);
  const world = loadWorld(files.world);
  const engine = createEngine({ policies: loadPolicies([policy]), world });
  const broker = await new KafkaTestBroker({ host: `127.0.${SUBNET}.31`, capture: true }).start();
  t.after(() => broker.close());
  const proxy = await startProxy({
    engine,
    log: pino({ level: 'silent' }),
    flows: NULL_SINK,
    redirects: [
      {
        listen: { host: `127.0.${SUBNET}.1`, port: 0 },
        protocol: 'kafka',
        advertise: 'listen',
        source: new ExplicitRedirectSource({ destinationEndpoint: 'orders/kafka-0', destinationPort: 9092, upstream: { host: broker.opts.host, port: broker.port } }, (ip) => engine.endpointByIp(ip)),
      },
    ],
  });
  t.after(() => proxy.close());
  return { broker, addr: proxy.listeners[0]!.address, src: `127.0.${SUBNET}.30` };
}

/** Sends bytes on a fresh connection; resolves with what came back and whether the proxy closed it. */
function exchange(addr: { host: string; port: number }, src: string, bytes: Buffer, waitMs = 3000): Promise<{ closed: boolean; reply: Buffer }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: addr.host, port: addr.port, localAddress: src });
    const got: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ closed, reply: Buffer.concat(got) });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('connect', () => s.write(bytes));
  });
}

const header = (key: number, version: number, corr = 1, client = 'fz'): Buffer => {
  const c = Buffer.from(client);
  const b = Buffer.alloc(10 + c.length);
  b.writeInt16BE(key, 0);
  b.writeInt16BE(version, 2);
  b.writeInt32BE(corr, 4);
  b.writeInt16BE(c.length, 8);
  c.copy(b, 10);
  return b;
};

test('malformed Kafka frames close the connection and are never forwarded (one subtest per row)', { timeout: 120_000 }, async (t) => {
  const { broker, addr, src } = await setup(t);
  const metadata = fixture('kafkajs-metadata-v6.bin');
  const produce = fixture('kafkajs-produce-v7.bin');
  const fetchFrame = fixture('kafkajs-fetch-v11.bin');
  const mdOff = decodeRequest(metadata).header.bodyOffset;
  const fetchOff = decodeRequest(fetchFrame).header.bodyOffset;
  const withArrayCount = (frame: Buffer, at: number, n: number): Buffer => {
    const b = Buffer.from(frame);
    b.writeInt32BE(n, at);
    return b;
  };
  const rows: Array<{ name: string; raw: Buffer }> = [
    { name: 'size 0', raw: Buffer.from([0, 0, 0, 0]) },
    { name: 'negative size', raw: Buffer.from([0xff, 0xff, 0xff, 0xfe]) },
    { name: 'size over the 100 MiB limit (closed before the body arrives)', raw: Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 3]) },
    { name: 'header truncated (3 bytes)', raw: sized(Buffer.from([0, 3, 0])) },
    { name: 'client id longer than the frame', raw: sized(Buffer.concat([header(3, 6).subarray(0, 8), Buffer.from([0, 50, 0x61])])) },
    { name: 'negative api_version', raw: sized(Buffer.concat([header(3, -1), Buffer.from([0, 0, 0, 0])])) },
    { name: 'unknown api key 99', raw: sized(Buffer.concat([header(99, 0), Buffer.from([0, 0, 0, 0])])) },
    { name: 'produce v13 (topic ids: no table)', raw: sized(Buffer.concat([header(0, 13), Buffer.alloc(12)])) },
    { name: 'fetch v13 (topic ids: no table)', raw: sized(Buffer.concat([header(1, 13), Buffer.alloc(40)])) },
    { name: 'metadata v6 with a leftover byte', raw: sized(Buffer.concat([metadata, Buffer.from([0])])) },
    { name: 'metadata v6 topic count -2', raw: sized(withArrayCount(metadata, mdOff, -2)) },
    { name: 'metadata v6 topic count larger than the frame', raw: sized(withArrayCount(metadata, mdOff, 0x7fffffff)) },
    { name: 'metadata v4 topic name longer than the frame', raw: sized(Buffer.concat([header(3, 4), Buffer.from([0, 0, 0, 1, 0x7f, 0xff, 0x61, 1])])) },
    { name: 'metadata v6 AllowAutoTopicCreation = 2', raw: sized(Buffer.concat([header(3, 6), Buffer.from([0, 0, 0, 0, 2])])) },
    { name: 'metadata v9 overlong varint', raw: sized(Buffer.concat([header(3, 9), Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])])) },
    { name: 'metadata v12 topic named only by id', raw: sized(Buffer.concat([header(3, 12), Buffer.from([0, 2, ...new Array(16).fill(7), 0, 0, 1, 0, 0])])) },
    { name: 'produce v7 cut short (size matches the cut)', raw: sized(produce.subarray(0, produce.length - 10)) },
    { name: 'fetch v11 partition count 2^31-1', raw: sized(withArrayCount(fetchFrame, fetchOff + 4 * 5 + 1 + 4 + 4 + 2 + 'fx.kafkajs.orders'.length, 0x7fffffff)) },
  ];
  for (const r of rows) {
    await t.test(r.name, async () => {
      const before = broker.frames.length;
      const res = await exchange(addr, src, r.raw);
      assert.equal(res.closed, true, 'the proxy kept the connection open');
      assert.equal(res.reply.length, 0, 'the proxy answered a malformed frame');
      assert.equal(broker.frames.length, before, 'a malformed frame reached the broker');
    });
  }
});

/** xorshift32: deterministic fuzz input from a printed seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

test('fuzz: mutated client frames never crash the proxy; only strictly valid frames reach the broker', { timeout: 180_000 }, async (t) => {
  const { broker, addr, src } = await setup(t);
  const seed = Number(process.env.TENDRIL_FUZZ_SEED ?? Date.now() % 0xffffffff);
  const rand = rng(seed);
  const names = (JSON.parse(readFileSync(`${FIX}index.json`, 'utf8')) as Array<{ file: string }>).map((f) => f.file);
  const sent = new Set<string>();
  const ITER = 400;
  for (let batch = 0; batch < ITER; batch += 20) {
    await Promise.all(
      Array.from({ length: 20 }, () => {
        const base = Buffer.from(fixture(names[Math.floor(rand() * names.length)]!));
        const mode = Math.floor(rand() * 4);
        let body: Buffer;
        if (mode === 0) {
          for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) base[4 + Math.floor(rand() * (base.length - 4))] = Math.floor(rand() * 256);
          body = base;
        } else if (mode === 1) body = base.subarray(0, 4 + Math.floor(rand() * (base.length - 4)));
        else if (mode === 2) body = Buffer.concat([base, Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)))]);
        else body = Buffer.concat([base.subarray(0, 4), Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)))]);
        sent.add(body.toString('hex'));
        return exchange(addr, src, sized(body), 800);
      }),
    );
  }
  for (const f of broker.frames) {
    assert.ok(sent.has(f.toString('hex')), `seed ${seed}: the broker received bytes that were not sent`);
    // ApiVersions newer than the tables (v5+) goes on its header alone (docs/kafka.md).
    if (f.readInt16BE(0) === 18 && f.readInt16BE(2) > 4) continue;
    assert.doesNotThrow(() => decodeRequest(f), `seed ${seed}: a frame the codec rejects reached the broker`);
  }
  // Still serving: a real client works after the storm.
  const p = kafkaFrom(src, [`${addr.host}:${addr.port}`]).producer();
  await p.connect();
  await p.send({ topic: 'after.fuzz', messages: [{ value: 'ok' }] });
  await p.disconnect();
  assert.equal(broker.recordCount('after.fuzz'), 1, `seed ${seed}`);
});
