/**
 * `npm run bench -- kafka`: Kafka messages/s through `tendril proxy --protocol kafka` (its own
 * process, seed Kafka policy enforced on every request) against the in-test broker direct, same
 * client, same broker, same run. Client: kcat (librdkafka, a separate process), so the client's
 * own cost is small next to the proxy's. Produce: N messages of 200 distinct random bytes (hex) to
 * orders.processed; fetch: the same N messages read back from orders.created with `-C -e`.
 * Prints `kafka produce ratio proxy/direct: X` (target >= 0.5) and the fetch ratio.
 * Does not cover: a real JVM broker (the in-test broker runs in this process and is part of
 * both sides' cost), multiple brokers or partitions, TLS/SASL, compression, group consumers.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { KafkaTestBroker } from '../test/helpers/kafka-broker.js';
import { kcat, writeKafkaFiles } from '../test/proxy/kafka/harness.js';

const SUBNET = 202;
const N = Number(process.env.KAFKA_BENCH_MESSAGES ?? 200_000);
const BIN = new URL('../bin/tendril.js', import.meta.url).pathname;

function startProxy(args: string[]): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'proxy', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(err);
      if (m)
        resolve({
          port: Number(m[1]),
          stop: () =>
            new Promise<void>((r) => {
              child.once('exit', () => r());
              child.kill('SIGTERM');
            }),
        });
    });
    child.once('exit', (code) => reject(new Error(`tendril proxy exited ${code}: ${err}`)));
  });
}

async function timed(label: string, run: () => Promise<{ code: number | null; stderr: string; stdout: string }>, check: (r: { stdout: string }) => void): Promise<number> {
  const t0 = performance.now();
  const r = await run();
  const s = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`${label}: kcat exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  check(r);
  return N / s;
}

export async function run(log: (line: string) => void): Promise<void> {
  const files = writeKafkaFiles(SUBNET);
  const broker = await new KafkaTestBroker({ host: `127.0.${SUBNET}.31` }).start();
  const proxy = await startProxy([
    '--protocol', 'kafka', '--policies', files.policies, '--world', files.world, '--listen', `127.0.${SUBNET}.1:0`,
    '--destination', 'orders/kafka-0:9092', '--upstream', `127.0.${SUBNET}.31:${broker.port}`,
  ]);
  try {
    const direct = `127.0.${SUBNET}.31:${broker.port}`;
    const viaProxy = `127.0.${SUBNET}.1:${proxy.port}`;
    const lines = (): string => Array.from({ length: N }, () => randomBytes(100).toString('hex')).join('\n') + '\n';
    const produce = (addr: string, input: string) => () => kcat(['-b', addr, '-P', '-t', 'orders.processed', '-X', 'linger.ms=5'], input, 600_000);
    const expectProduced = (n: number) => () => {
      if (broker.recordCount('orders.processed') !== n) throw new Error(`broker holds ${broker.recordCount('orders.processed')} records, expected ${n}`);
    };
    // Fill orders.created directly for the fetch runs.
    await kcat(['-b', direct, '-P', '-t', 'orders.created'], lines(), 600_000);
    const fetch = (addr: string) => () => kcat(['-b', addr, '-C', '-t', 'orders.created', '-o', 'beginning', '-e', '-q'], '', 600_000);
    const expectFetched = (r: { stdout: string }): void => {
      const n = r.stdout.split('\n').filter((l) => l.length > 0).length;
      if (n !== N) throw new Error(`fetched ${n} messages, expected ${N}`);
    };
    const rows: Array<[string, number, number]> = [];
    // Two rounds, alternating, so warm-up and machine noise hit both sides.
    let produced = 0;
    for (let round = 0; round < 2; round++) {
      const pd = await timed('produce direct', produce(direct, lines()), expectProduced((produced += N)));
      const pp = await timed('produce proxy', produce(viaProxy, lines()), expectProduced((produced += N)));
      const fd = await timed('fetch direct', fetch(direct), expectFetched);
      const fp = await timed('fetch proxy', fetch(viaProxy), expectFetched);
      rows.push(['produce', pd, pp], ['fetch', fd, fp]);
    }
    log(`kafka: ${N} messages of 200 bytes per run, kcat ${'->'} in-test broker, 2 rounds (best of each shown)`);
    log('| op | direct msg/s | proxy msg/s | proxy/direct |');
    log('| --- | --- | --- | --- |');
    for (const op of ['produce', 'fetch']) {
      const r = rows.filter((x) => x[0] === op);
      const d = Math.max(...r.map((x) => x[1]));
      const p = Math.max(...r.map((x) => x[2]));
      log(`| ${op} | ${d.toFixed(0)} | ${p.toFixed(0)} | ${(p / d).toFixed(2)} |`);
    }
    const best = (op: string, i: 1 | 2): number => Math.max(...rows.filter((x) => x[0] === op).map((x) => x[i]));
    log(`kafka produce ratio proxy/direct: ${(best('produce', 2) / best('produce', 1)).toFixed(2)}`);
    log(`kafka fetch ratio proxy/direct: ${(best('fetch', 2) / best('fetch', 1)).toFixed(2)}`);
  } finally {
    await proxy.stop();
    await broker.close();
    rmSync(files.dir, { recursive: true, force: true });
  }
}
