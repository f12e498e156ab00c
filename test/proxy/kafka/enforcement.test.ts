/**
 * Per-request enforcement details through the proxy (in process, raw frames built with the codec
 * tables, plus kafkajs): clientID and apiVersion rules, responses to pipelined requests leave in
 * correlation order with a synthetic deny between forwarded answers, a denied acks=0 produce
 * closes the connection, Metadata "all topics" under topic-only rules is denied, and the
 * ApiVersions answer is clamped.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { createEngine, loadPolicies, loadWorld } from '../../../policy/index.js';
import { ExplicitRedirectSource, startProxy } from '../../../proxy/index.js';
import { API_TABLES, Reader, Writer, decodeStruct, encodeStruct, type Rec } from '../../../proxy/kafka/index.js';
import { NULL_SINK } from '../../../observe/index.js';
import { KafkaTestBroker } from '../../helpers/kafka-broker.js';
import { kafkaFrom, writeKafkaFiles } from './harness.js';

const SUBNET = 205;

function policyText(rules: string): string {
  if (rules === '') {
    return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: kafka-l4, namespace: orders}
spec:
  endpointSelector: {matchLabels: {app: kafka}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: order-processor}}]
    toPorts:
    - ports: [{port: "9092", protocol: TCP}]
`;
  }
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: kafka-rules, namespace: orders}
spec:
  endpointSelector: {matchLabels: {app: kafka}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: order-processor}}]
    toPorts:
    - ports: [{port: "9092", protocol: TCP}]
      rules:
        kafka:
${rules}`;
}

async function setup(t: TestContext, rules: string): Promise<{ broker: KafkaTestBroker; bootstrap: string; addr: { host: string; port: number }; src: string }> {
  const files = writeKafkaFiles(SUBNET);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const policy = join(files.dir, 'rules.cnp.yaml');
  writeFileSync(policy, policyText(rules));
  const engine = createEngine({ policies: loadPolicies([policy]), world: loadWorld(files.world) });
  const broker = await new KafkaTestBroker({ host: `127.0.${SUBNET}.31`, capture: true }).start();
  t.after(() => broker.close());
  const proxy = await startProxy({
    engine,
    log: pino({ level: 'silent' }),
    flows: NULL_SINK,
    redirects: [{
      listen: { host: `127.0.${SUBNET}.1`, port: 0 },
      protocol: 'kafka',
      advertise: 'listen',
      source: new ExplicitRedirectSource({ destinationEndpoint: 'orders/kafka-0', destinationPort: 9092, upstream: { host: broker.opts.host, port: broker.port } }, (ip) => engine.endpointByIp(ip)),
    }],
  });
  t.after(() => proxy.close());
  const addr = proxy.listeners[0]!.address;
  return { broker, addr, bootstrap: `${addr.host}:${addr.port}`, src: `127.0.${SUBNET}.30` };
}

/** One request frame (size prefix included), non-flexible header v1. */
function requestFrame(key: number, version: number, corr: number, body: Rec): Buffer {
  const t = API_TABLES.get(key)!;
  const w = new Writer();
  w.int32(0).int16(key).int16(version).int32(corr).string('raw-test', false);
  encodeStruct(t.request, version, false, w, body);
  const out = Buffer.from(w.done());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** Sends frames in one write and collects `n` response frames (or until the proxy closes). */
function pipeline(addr: { host: string; port: number }, src: string, bytes: Buffer, n: number): Promise<{ frames: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: addr.host, port: addr.port, localAddress: src });
    let buf = Buffer.alloc(0);
    const frames: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ frames, closed });
    };
    const timer = setTimeout(() => finish(false), 5000);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        frames.push(buf.subarray(4, 4 + buf.readInt32BE(0)));
        buf = buf.subarray(4 + buf.readInt32BE(0));
        if (frames.length === n) finish(false);
      }
    });
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', () => s.write(bytes));
  });
}

const produceBody = (topic: string, acks: number): Rec => ({ TransactionalId: null, Acks: acks, TimeoutMs: 1000, TopicData: [{ Name: topic, PartitionData: [{ Index: 0, Records: null }] }] });

test('clientID rule: only the named client may produce', { timeout: 60_000 }, async (t) => {
  const h = await setup(t, `        - {apiKey: apiversions}
        - {apiKey: metadata}
        - {apiKey: produce, clientID: billing, topic: orders.processed}
`);
  const good = kafkaFrom(h.src, [h.bootstrap], { clientId: 'billing' }).producer();
  await good.connect();
  await good.send({ topic: 'orders.processed', messages: [{ value: 'ok' }] });
  await good.disconnect();
  const bad = kafkaFrom(h.src, [h.bootstrap], { clientId: 'other' }).producer();
  await bad.connect();
  await assert.rejects(bad.send({ topic: 'orders.processed', messages: [{ value: 'no' }] }), /Topic authorization failed|TOPIC_AUTHORIZATION_FAILED/);
  await bad.disconnect();
  assert.equal(h.broker.recordCount('orders.processed'), 1);
  assert.ok(h.broker.received.filter((r) => r.apiKey === 0).every((r) => r.clientId === 'billing'));
});

test('apiVersion rule: produce v7 allowed, any other version denied', { timeout: 60_000 }, async (t) => {
  const h = await setup(t, `        - {apiKey: apiversions}
        - {apiKey: metadata}
        - {apiKey: produce, apiVersion: "7"}
`);
  const r7 = await pipeline(h.addr, h.src, requestFrame(0, 7, 1, produceBody('v.topic', -1)), 1);
  const r5 = await pipeline(h.addr, h.src, requestFrame(0, 5, 2, produceBody('v.topic', -1)), 1);
  const errorOf = (frame: Buffer, v: number): number => {
    const body = decodeStruct(API_TABLES.get(0)!.response, v, false, new Reader(frame, 4));
    return ((body.Responses as Rec[])[0]!.PartitionResponses as Rec[])[0]!.ErrorCode as number;
  };
  assert.equal(errorOf(r7.frames[0]!, 7), 0);
  assert.equal(errorOf(r5.frames[0]!, 5), 29);
  assert.deepEqual(h.broker.received.filter((r) => r.apiKey === 0).map((r) => r.apiVersion), [7]);
});

test('pipelined requests: the deny is answered in correlation order between forwarded answers; acks=0 deny closes; all-topics Metadata denied', { timeout: 60_000 }, async (t) => {
  const h = await setup(t, `        - {role: produce, topic: allowed.t}
`);
  await t.test('order', async () => {
    const bytes = Buffer.concat([
      requestFrame(3, 6, 11, { Topics: [{ Name: 'allowed.t' }], AllowAutoTopicCreation: true }),
      requestFrame(0, 7, 12, produceBody('denied.t', -1)),
      requestFrame(0, 7, 13, produceBody('allowed.t', -1)),
      requestFrame(0, 7, 14, produceBody('denied.t', 1)),
    ]);
    const r = await pipeline(h.addr, h.src, bytes, 4);
    assert.deepEqual(r.frames.map((f) => f.readInt32BE(0)), [11, 12, 13, 14]);
    const err = (f: Buffer): number => ((decodeStruct(API_TABLES.get(0)!.response, 7, false, new Reader(f, 4)).Responses as Rec[])[0]!.PartitionResponses as Rec[])[0]!.ErrorCode as number;
    assert.deepEqual([err(r.frames[1]!), err(r.frames[2]!), err(r.frames[3]!)], [29, 0, 29]);
    assert.ok(!h.broker.received.some((x) => x.topics.includes('denied.t')));
  });
  await t.test('acks=0 produce denied: connection closed, no answer', async () => {
    const r = await pipeline(h.addr, h.src, requestFrame(0, 7, 21, produceBody('denied.t', 0)), 1);
    assert.equal(r.closed, true);
    assert.equal(r.frames.length, 0);
  });
  await t.test('Metadata for all topics under topic-only rules: Topics [] with no brokers, not forwarded', async () => {
    const before = h.broker.received.length;
    const r = await pipeline(h.addr, h.src, requestFrame(3, 6, 31, { Topics: null, AllowAutoTopicCreation: false }), 1);
    const body = decodeStruct(API_TABLES.get(3)!.response, 6, false, new Reader(r.frames[0]!, 4));
    assert.deepEqual(body.Topics, []);
    assert.deepEqual(body.Brokers, []);
    assert.equal(h.broker.received.length, before);
  });
  await t.test('ApiVersions answer is clamped (Produce/Fetch <= 12) and Metadata brokers point at the proxy', async () => {
    const bytes = Buffer.concat([requestFrame(18, 2, 41, {}), requestFrame(3, 6, 42, { Topics: [{ Name: 'allowed.t' }], AllowAutoTopicCreation: true })]);
    const r = await pipeline(h.addr, h.src, bytes, 2);
    const av = decodeStruct(API_TABLES.get(18)!.response, 2, false, new Reader(r.frames[0]!, 4));
    for (const k of av.ApiKeys as Rec[]) {
      const table = API_TABLES.get(k.ApiKey as number);
      if (table) assert.ok((k.MaxVersion as number) <= table.versions[1], `key ${String(k.ApiKey)} max ${String(k.MaxVersion)}`);
    }
    // The broker offers Fetch up to 17 and DeleteTopics up to 6 (topic ids): clamped.
    const max = (key: number): unknown => (av.ApiKeys as Rec[]).find((k) => k.ApiKey === key)?.MaxVersion;
    assert.equal(max(1), 12);
    assert.equal(max(20), 5);
    const md = decodeStruct(API_TABLES.get(3)!.response, 6, false, new Reader(r.frames[1]!, 4));
    assert.deepEqual((md.Brokers as Rec[]).map((b) => `${String(b.Host)}:${String(b.Port)}`), [h.bootstrap]);
  });
});

test('a port with no Kafka rules (L4 allow) relays after the framing checks: any topic works, a bad size still closes', { timeout: 60_000 }, async (t) => {
  const h = await setup(t, '');
  const p = kafkaFrom(h.src, [h.bootstrap]).producer();
  await p.connect();
  await p.send({ topic: 'any.topic', messages: [{ value: 'x' }] });
  await p.disconnect();
  assert.equal(h.broker.recordCount('any.topic'), 1);
  const before = h.broker.frames.length;
  const r = await pipeline(h.addr, h.src, Buffer.from([0xff, 0xff, 0xff, 0xff]), 1);
  assert.equal(r.closed, true);
  assert.equal(h.broker.frames.length, before);
});
