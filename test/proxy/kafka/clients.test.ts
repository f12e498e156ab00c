/**
 * Real Kafka clients (kafkajs from npm, kcat/librdkafka from Debian) through
 * `tendril proxy --protocol kafka` to the in-test broker, under the seed's corrected Kafka policy
 * (config/examples/corrected/30-kafka-orders.cnp.yaml): order-processor may consume
 * orders.created and produce orders.processed. Allowed traffic works end to end; denied requests
 * fail in the client with TOPIC_AUTHORIZATION_FAILED and never reach the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kafkaFrom, kcat, startKafkaHarness } from './harness.js';

const SUBNET = 200;

test('kafkajs and kcat through tendril proxy --protocol kafka under the seed Kafka policy', { timeout: 120_000 }, async (t) => {
  const h = await startKafkaHarness(t, SUBNET);
  const direct = `${h.ip.broker}:${h.broker.port}`;
  // Seed orders.created straight at the broker (the policy does not let order-processor produce it).
  const seeder = kafkaFrom(h.ip.broker, [direct]).producer();
  await seeder.connect();
  await seeder.send({ topic: 'orders.created', messages: [{ value: 'created-1' }, { value: 'created-2' }, { value: 'created-3' }] });
  await seeder.disconnect();
  const seen = h.broker.received.length;
  const topicsReached = (from: number): Set<string> => new Set(h.broker.received.slice(from).flatMap((r) => r.topics));

  await t.test('kafkajs produces to orders.processed (allowed)', async () => {
    const p = kafkaFrom(h.ip.processor, [h.bootstrap]).producer();
    await p.connect();
    const res = await p.send({ topic: 'orders.processed', messages: [{ value: 'done-1' }, { value: 'done-2' }] });
    await p.disconnect();
    assert.equal(res[0]!.errorCode, 0);
    assert.equal(h.broker.recordCount('orders.processed'), 2);
  });

  await t.test('kafkajs producing to payment-events fails with TOPIC_AUTHORIZATION_FAILED, nothing reaches the broker', async () => {
    const before = h.broker.received.length;
    const p = kafkaFrom(h.ip.processor, [h.bootstrap]).producer();
    await p.connect();
    await assert.rejects(p.send({ topic: 'payment-events', messages: [{ value: 'x' }] }), (err: any) => {
      const text = `${err.type ?? ''} ${err.message} ${err.originalError?.type ?? ''}`;
      assert.match(text, /TOPIC_AUTHORIZATION_FAILED|Not authorized to access topics: \[Topic authorization failed\]/);
      return true;
    });
    await p.disconnect();
    assert.ok(!topicsReached(before).has('payment-events'), 'payment-events reached the broker');
    assert.equal(h.broker.recordCount('payment-events'), 0);
  });

  await t.test('kafkajs group consumer reads orders.created (allowed)', async () => {
    const c = kafkaFrom(h.ip.processor, [h.bootstrap]).consumer({ groupId: 'processors', sessionTimeout: 6000, heartbeatInterval: 500 });
    await c.connect();
    await c.subscribe({ topic: 'orders.created', fromBeginning: true });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed only ${JSON.stringify(got)}`)), 30_000);
      void c.run({
        eachMessage: async ({ message }) => {
          got.push(String(message.value));
          if (got.length === 3) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await c.disconnect();
    assert.deepEqual(got, ['created-1', 'created-2', 'created-3']);
  });

  await t.test('kcat produces to orders.processed (allowed)', async () => {
    const r = await kcat(['-b', h.bootstrap, '-P', '-t', 'orders.processed'], 'k1\nk2\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(h.broker.recordCount('orders.processed'), 4);
  });

  await t.test('kcat producing to orders.created (consume-only) reports Topic authorization failed', async () => {
    const before = h.broker.recordCount('orders.created');
    const r = await kcat(['-b', h.bootstrap, '-P', '-t', 'orders.created', '-X', 'message.send.max.retries=0'], 'nope\n');
    assert.match(r.stderr, /Topic authorization failed/);
    assert.equal(h.broker.recordCount('orders.created'), before);
  });

  await t.test('kcat consumes orders.created (allowed)', async () => {
    const r = await kcat(['-b', h.bootstrap, '-C', '-t', 'orders.created', '-o', 'beginning', '-e', '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['created-1', 'created-2', 'created-3']);
  });

  await t.test('kcat consuming orders.processed (produce-only) reports Topic authorization failed', async () => {
    const before = h.broker.received.length;
    const r = await kcat(['-b', h.bootstrap, '-C', '-t', 'orders.processed', '-o', 'beginning', '-e', '-q']);
    assert.match(r.stderr, /Topic authorization failed/);
    assert.equal(r.stdout, '');
    const fetched = h.broker.received.slice(before).filter((x) => (x.apiKey === 1 || x.apiKey === 2) && x.topics.includes('orders.processed'));
    assert.deepEqual(fetched, []);
  });

  await t.test('rogue-0 (no rule) cannot even negotiate: connection closed, nothing reaches the broker', async () => {
    const before = h.broker.received.length;
    const p = kafkaFrom(h.ip.rogue, [h.bootstrap]).producer();
    await assert.rejects(p.connect());
    assert.equal(h.broker.received.length, before);
  });

  await t.test('flows: l7.kafka with Hubble field names, FORWARDED and DROPPED (29)', async () => {
    const flows = h.flows().filter((f) => f.l7?.kafka);
    const fwd = flows.find((f) => f.l7.type === 'REQUEST' && f.verdict === 'FORWARDED' && f.l7.kafka.api_key === 'produce' && f.l7.kafka.topic === 'orders.processed');
    assert.ok(fwd, 'no forwarded produce flow');
    assert.equal(fwd.l7.kafka.error_code, 0);
    assert.equal(typeof fwd.l7.kafka.correlation_id, 'number');
    assert.equal(fwd.l7.kafka.api_version, 7);
    assert.equal(fwd.source.pod_name, 'order-processor-0');
    assert.equal(fwd.destination.pod_name, 'kafka-0');
    const denied = flows.find((f) => f.l7.type === 'REQUEST' && f.verdict === 'DROPPED' && f.l7.kafka.topic === 'payment-events');
    assert.ok(denied, 'no dropped payment-events flow');
    assert.equal(denied.l7.kafka.error_code, 29);
    assert.equal(denied.drop_reason_desc, 'POLICY_DENIED');
    // The consumers' fetches went through the proxy (broker addresses rewritten to it).
    const fetches = flows.filter((f) => f.l7.type === 'REQUEST' && f.l7.kafka.api_key === 'fetch' && f.l7.kafka.topic === 'orders.created' && f.verdict === 'FORWARDED');
    assert.ok(fetches.length > 0, 'no fetch of orders.created went through the proxy');
    const resp = flows.find((f) => f.l7.type === 'RESPONSE' && f.verdict === 'FORWARDED');
    assert.ok(resp && typeof resp.l7.latency_ns === 'number');
  });
  assert.ok(h.broker.received.length > seen);
});
