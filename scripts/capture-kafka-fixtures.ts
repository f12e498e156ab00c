/**
 * Captures request frames from real Kafka clients (kafkajs from npm, kcat/librdkafka from Debian)
 * against the in-test broker and writes them as golden fixtures to test/fixtures/kafka/: one
 * `<client>-<apikey>-v<version>.bin` per distinct (client, key, version) (the bytes after the size
 * prefix) and index.json with the header facts and the topic names of the scenario found in the
 * frame's bytes. Run: `npx tsx scripts/capture-kafka-fixtures.ts` (needs kcat).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaTestBroker } from '../test/helpers/kafka-broker.js';
import { apiKeyName } from '../proxy/kafka/index.js';

const OUT = new URL('../test/fixtures/kafka/', import.meta.url).pathname;
const TOPICS = ['fx.kafkajs.orders', 'fx.kafkajs.admin', 'fx.kcat.orders'];
/** API keys whose requests name topics (group APIs carry topic names only inside opaque member metadata). */
const TOPIC_KEYS = new Set([0, 1, 2, 3, 8, 9, 19, 20, 21, 23]);

function kcat(args: string[], input = ''): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn('kcat', args, { stdio: ['pipe', 'ignore', 'ignore'] });
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    c.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    c.stdin.end(input);
  });
}

async function capture(client: string, run: (addr: string) => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const broker = await new KafkaTestBroker({ host: '127.0.209.1', capture: true }).start();
  await run(`127.0.209.1:${broker.port}`);
  await broker.close();
  const seen = new Set<string>();
  const out: Array<Record<string, unknown>> = [];
  for (const f of broker.frames) {
    const key = f.readInt16BE(0);
    const version = f.readInt16BE(2);
    const id = `${client}-${apiKeyName(key)}-v${version}`;
    if (seen.has(id)) continue;
    seen.add(id);
    writeFileSync(`${OUT}${id}.bin`, f);
    out.push({ file: `${id}.bin`, client, apiKey: key, apiVersion: version, correlationId: f.readInt32BE(4), topics: TOPIC_KEYS.has(key) ? TOPICS.filter((t) => f.includes(t)) : [] });
  }
  return out;
}

mkdirSync(OUT, { recursive: true });
const index = [
  ...(await capture('kafkajs', async (addr) => {
    const kafka = new Kafka({ clientId: 'fixture', brokers: [addr], logLevel: logLevel.NOTHING, socketFactory: ({ host, port, onConnect }) => net.connect({ host, port }, onConnect) });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'fx.kafkajs.admin', numPartitions: 1 }] });
    await admin.listTopics();
    await admin.deleteTopics({ topics: ['fx.kafkajs.admin'] });
    await admin.disconnect();
    const p = kafka.producer();
    await p.connect();
    await p.send({ topic: 'fx.kafkajs.orders', messages: [{ key: 'k', value: 'v1' }, { value: 'v2' }] });
    await p.disconnect();
    const c = kafka.consumer({ groupId: 'fx-group' });
    await c.connect();
    await c.subscribe({ topic: 'fx.kafkajs.orders', fromBeginning: true });
    let n = 0;
    await new Promise<void>((resolve) => void c.run({ eachMessage: async () => void (++n === 2 && resolve()) }));
    await c.commitOffsets([{ topic: 'fx.kafkajs.orders', partition: 0, offset: '2' }]);
    await c.disconnect();
  })),
  ...(await capture('kcat', async (addr) => {
    await kcat(['-b', addr, '-L']);
    await kcat(['-b', addr, '-P', '-t', 'fx.kcat.orders'], 'a\nb\n');
    await kcat(['-b', addr, '-C', '-t', 'fx.kcat.orders', '-o', 'beginning', '-e']);
    await kcat(['-b', addr, '-G', 'fx-kcat-group', '-o', 'beginning', '-e', 'fx.kcat.orders']);
  })),
];
writeFileSync(`${OUT}index.json`, `${JSON.stringify(index, null, 1)}\n`);
console.log(`${index.length} fixtures written to ${OUT}`);
