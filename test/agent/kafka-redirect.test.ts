/**
 * `tendril agent` with a `standalone.redirects` entry of protocol kafka: kafkajs as
 * order-processor produces through the agent's Kafka listener to the in-test broker, a denied
 * topic fails with TOPIC_AUTHORIZATION_FAILED, and the Hubble kafka metrics count both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request } from 'undici';
import { freePort } from '../helpers/servers.js';
import { spawnAgent, waitReady } from '../helpers/agent.js';
import { KafkaTestBroker } from '../helpers/kafka-broker.js';
import { kafkaFrom, writeKafkaFiles } from '../proxy/kafka/harness.js';

const SUBNET = 203;

test('agent: a kafka redirect enforces the seed Kafka policy and exports hubble_kafka_* metrics', { timeout: 60_000 }, async (t) => {
  const files = writeKafkaFiles(SUBNET);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const broker = await new KafkaTestBroker({ host: `127.0.${SUBNET}.31` }).start();
  t.after(() => broker.close());
  const [health, hubble, metrics, listen] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const agent = spawnAgent(t, [
    `health.listenAddress=127.0.0.1:${health}`,
    `hubble.listenAddress=127.0.0.1:${hubble}`,
    `hubble.metrics.listenAddress=127.0.0.1:${metrics}`,
    'hubble.metrics.enabled=[kafka]',
    'hubble.store.enabled=false',
    'datapath.enabled=false',
    `standalone.policies=[${files.policies}]`,
    `standalone.world=${files.world}`,
    `standalone.redirects=[{listen: "127.0.${SUBNET}.1:${listen}", destination: "orders/kafka-0:9092", upstream: "127.0.${SUBNET}.31:${broker.port}", protocol: kafka}]`,
  ]);
  await waitReady(agent, `127.0.0.1:${health}`);
  const kafka = kafkaFrom(`127.0.${SUBNET}.30`, [`127.0.${SUBNET}.1:${listen}`]);
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: 'orders.processed', messages: [{ value: 'a' }] });
  await assert.rejects(p.send({ topic: 'payment-events', messages: [{ value: 'b' }] }), /Topic authorization failed|TOPIC_AUTHORIZATION_FAILED/);
  await p.disconnect();
  assert.equal(broker.recordCount('orders.processed'), 1);
  assert.equal(broker.recordCount('payment-events'), 0);
  const text = await (await request(`http://127.0.0.1:${metrics}/metrics`)).body.text();
  assert.match(text, /hubble_kafka_requests_total\{[^}]*api_key="produce"[^}]*error_code="0"[^}]*topic="orders.processed"[^}]*\} 1/);
  assert.match(text, /hubble_kafka_requests_total\{[^}]*api_key="metadata"[^}]*error_code="29"[^}]*topic="payment-events"[^}]*\}/);
  const status = (await (await request(`http://127.0.0.1:${health}/status`)).body.json()) as Record<string, any>;
  const listeners = JSON.stringify(status);
  assert.match(listeners, /"protocol":"kafka"/);
});
