/**
 * Kafka test harness: the in-test broker on `127.0.<subnet>.31` (orders/kafka-0), a world with
 * order-processor-0 on `.30` (and 127.0.0.1, the source address of clients that cannot bind, like
 * kcat), rogue-0 on `.66`, the seed's corrected Kafka policy, `tendril proxy --protocol kafka` on
 * `.1`, and client helpers (kafkajs bound to a pod address; kcat as a child process).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { KafkaTestBroker } from '../../helpers/kafka-broker.js';
import { startCliProxy, type CliProxy } from '../helpers/cli-proxy.js';

export const KAFKA_POLICY = new URL('../../../config/examples/corrected/30-kafka-orders.cnp.yaml', import.meta.url).pathname;

export interface KafkaHarness {
  broker: KafkaTestBroker;
  proxy: CliProxy;
  /** `host:port` of the proxy. */
  bootstrap: string;
  flowsFile: string;
  ip: { processor: string; rogue: string; broker: string };
  flows(): Array<Record<string, any>>;
}

export function writeKafkaFiles(subnet: number, policy = KAFKA_POLICY): { dir: string; policies: string; world: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-kafka-'));
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  copyFileSync(policy, join(policies, 'kafka.cnp.yaml'));
  const world = join(dir, 'world.yaml');
  writeFileSync(
    world,
    [
      'namespaces:',
      '  - {name: orders, labels: {team: orders}}',
      'endpoints:',
      `  - {name: order-processor-0, namespace: orders, labels: {app: order-processor}, ips: [127.0.${subnet}.30, 127.0.0.1]}`,
      `  - {name: kafka-0, namespace: orders, labels: {app: kafka}, ips: [127.0.${subnet}.31]}`,
      `  - {name: rogue-0, namespace: orders, labels: {app: rogue}, ips: [127.0.${subnet}.66]}`,
      '',
    ].join('\n'),
  );
  return { dir, policies, world };
}

export async function startKafkaHarness(t: TestContext, subnet: number, policy = KAFKA_POLICY): Promise<KafkaHarness> {
  const files = writeKafkaFiles(subnet, policy);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const broker = await new KafkaTestBroker({ host: `127.0.${subnet}.31`, capture: true }).start();
  t.after(() => broker.close());
  const flowsFile = join(files.dir, 'flows.jsonl');
  const proxy = await startCliProxy(t, [
    '--protocol', 'kafka', '--policies', files.policies, '--world', files.world, '--listen', `127.0.${subnet}.1:0`,
    '--destination', 'orders/kafka-0:9092', '--upstream', `127.0.${subnet}.31:${broker.port}`, '--flows', flowsFile,
  ]);
  return {
    broker,
    proxy,
    bootstrap: `${proxy.host}:${proxy.port}`,
    flowsFile,
    ip: { processor: `127.0.${subnet}.30`, rogue: `127.0.${subnet}.66`, broker: `127.0.${subnet}.31` },
    flows: () =>
      readFileSync(flowsFile, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}

/** A kafkajs client whose every connection leaves from `localAddress` (acting as that pod). */
export function kafkaFrom(localAddress: string, brokers: string[], extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'tendril-test',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    connectionTimeout: 3000,
    socketFactory: ({ host, port, onConnect }) => {
      const s = net.connect({ host, port, localAddress }, onConnect);
      s.setKeepAlive(true);
      return s;
    },
    ...extra,
  });
}

export interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kcat asynchronously (the broker lives in this process: never block the event loop). */
export function kcat(args: string[], input?: string, timeoutMs = 15_000): Promise<KcatResult> {
  return new Promise((resolve) => {
    const c = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    c.stdin.end(input ?? '');
  });
}
