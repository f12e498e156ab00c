/**
 * `tendril observe` in-process against a real Observer gRPC server holding the spec's example
 * flows: every filter flag, selectors, output formats, follow, the store and --aggregate pairs.
 */
process.env.TZ = 'UTC';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { runCli } from '../../agent/cli/main.js';
import { newFlow, type Flow } from '../../observe/index.js';
import { buildWhitelist, FlowRing, FlowStore, ObserverServer, toRow } from '../../observe/consumers/index.js';
import { specExamples, paymentsFlows } from './fixtures.js';

const log = pino({ level: 'silent' });

async function cli(args: string[], onStdout?: (text: string) => void): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
    onStdout?.(out);
  });
  stderr.on('data', (d) => (err += d));
  // node:test sets process.exitCode when a test fails, and runCli reports a preset exitCode.
  process.exitCode = undefined;
  const code = await runCli(args, { stdout, stderr });
  return { code, out, err };
}

const flows: Flow[] = [...specExamples().map((x) => x.flow), ...paymentsFlows()];
let server: ObserverServer;
let ring: FlowRing;
let addr = '';

test.before(async () => {
  ring = new FlowRing(4096);
  for (const f of flows) ring.emit(f);
  server = new ObserverServer({ ring, log, nodeName: 'node-1', version: 't', address: '127.0.0.1:0' });
  addr = await server.start();
});
test.after(() => server.stop());

const summaries = (out: string): string[] => out.trim().split('\n').filter(Boolean).map((l) => l.slice(l.indexOf(' (', l.lastIndexOf(') ') - 1) + 2, -1));

test('default: the last 20 flows as compact lines identical to the hubble CLI output', async () => {
  const r = await cli(['observe', '--server', addr]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, flows.length);
  assert.deepEqual(lines.slice(0, specExamples().length), specExamples().map((x) => x.line));
});

const FLAG_CASES: Array<[string[], number[]]> = [
  // [flags, indexes into `flows` expected, in order]
  [['--namespace', 'kafka'], [12]],
  [['-n', 'payments'], [13, 14, 15]],
  [['--from-namespace', 'kube-system'], [10, 11]],
  [['--to-namespace', 'kube-system'], [9]], // flow 6 is a service, not a pod
  [['--pod', 'default/tiefighter'], [2]],
  [['--pod', 'tiefighter'], [2]],
  [['--from-pod', 'default/deathstar'], [1, 8]],
  [['--to-pod', 'kafka/kafka-0'], [12]],
  [['--from-label', 'k8s:app=tiefighter'], [2]],
  [['--to-label', 'app=kafka'], [12]],
  [['--label', 'reserved:world'], [4, 6]],
  [['--to-label', 'k8s:k8s-app in (kube-dns,x)'], [9]],
  [['--to-fqdn', '*.github.com'], [4]],
  [['--from-fqdn', 'api.github.com'], []],
  [['--fqdn', 'api.github.com'], [4]],
  [['--verdict', 'DROPPED'], [2, 15]],
  [['--verdict', 'dropped,forwarded'], [...Array(16).keys()]],
  [['--protocol', 'http'], [7, 8, 13, 14, 15]],
  [['--protocol', 'udp'], [6, 9, 10, 11]],
  [['--protocol', 'icmp'], [5]],
  [['--protocol', 'dns'], [9, 10, 11]],
  [['--protocol', 'kafka'], [12]],
  [['--http-method', 'delete'], [15]],
  [['--http-path', '^/api/v1/payments/'], [13, 14]],
  [['--http-status', '200'], [8, 14]],
  [['--http-status', '2+'], [8, 14]],
  [['--http-status', '5+'], []],
  [['--port', '9092'], [12]],
  [['--to-port', '53'], [6, 9]],
  [['--from-port', '53'], [10, 11]],
  [['--type', 'l7'], [7, 8, 9, 10, 11, 12, 13, 14, 15]],
  [['--type', 'drop'], [2]],
  [['--type', 'policy-verdict'], [3]],
  [['--type', 'trace:to-endpoint'], [0]],
  [['--type', 'trace:to-network'], [4]],
  [['--type', 'trace'], [0, 1, 4, 5, 6]],
  [['--from-ip', '10.0.1.30'], [2]],
  [['--to-ip', '10.0.4.0/24'], [12]],
  [['--ip', '140.82.112.6'], [4]],
  [['--from-identity', '34567'], [2]],
  [['--identity', '50000'], [12]],
  [['--to-service', 'kube-system/kube-dns'], [6]],
  [['--traffic-direction', 'egress'], [1, 4, 5, 6, 9, 10, 11, 12]],
  [['--node-name', 'node-*'], [...Array(16).keys()]],
  [['--dns-query', '^nope'], [11]],
  [['--uuid', 'UUID15'], [15]],
  [['-n', 'payments', '--verdict', 'DROPPED'], [15]],
  [['--to-pod', 'payments/payment', '--http-method', 'GET', '--http-method', 'DELETE'], [13, 15]],
  [['--since', '2026-05-01T12:00:02Z', '--until', '2026-05-01T12:00:03.001Z'], [7, 8, 9]],
  [['-n', 'payments', '--not', '--verdict', 'DROPPED'], [13, 14]],
  [['--protocol', 'http', '--not', '--namespace', 'payments'], [7, 8]],
  // Negated flags form one blacklist filter (AND), as hubble builds it: only L7 drops are excluded.
  [['--not', '--type', 'l7', '--not', '--verdict', 'DROPPED'], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
];

for (const [args, want] of FLAG_CASES) {
  test(`filter flag ${args.join(' ')}`, async () => {
    const a = args.map((x) => (x === 'UUID15' ? flows[15]!.uuid : x));
    const r = await cli(['observe', '--server', addr, '--all', '-o', 'json', ...a]);
    assert.equal(r.code, 0, r.err);
    const got = r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).flow.uuid);
    const byTime = (i: number) => flows[i]!;
    const expected = want.map(byTime).sort((x, y) => ring.snapshot().indexOf(x) - ring.snapshot().indexOf(y)).map((f) => f.uuid);
    assert.deepEqual(got, expected);
  });
}

test('flags build the same raw filters as hubble --print-raw-filters', () => {
  assert.deepEqual(buildWhitelist({ namespace: ['kube-system'], verdict: ['DROPPED'] }), [
    { verdict: ['DROPPED'], source_pod: ['kube-system/'] },
    { verdict: ['DROPPED'], destination_pod: ['kube-system/'] },
  ]);
  assert.deepEqual(buildWhitelist({ fromNamespace: ['a'], toNamespace: ['b'] }), [{ source_pod: ['a/'], destination_pod: ['b/'] }]);
  assert.deepEqual(buildWhitelist({ type: ['trace:from-endpoint'] }), [{ event_type: [{ type: 4, match_sub_type: true, sub_type: 5 }] }]);
  assert.deepEqual(buildWhitelist({ type: ['trace:to-endpoint'] }), [{ event_type: [{ type: 4, match_sub_type: true }] }]);
  assert.deepEqual(buildWhitelist({ port: ['8080'] }), [{ source_port: ['8080'] }, { destination_port: ['8080'] }]);
  assert.deepEqual(buildWhitelist({ fromLabel: ['app=foo'], toLabel: ['k8s:app=bar'] }), [{ source_label: ['app=foo'], destination_label: ['k8s:app=bar'] }]);
  assert.deepEqual(buildWhitelist({}), []);
});

test('selectors: --last N, --first N', async () => {
  const last = await cli(['observe', '--server', addr, '--last', '2', '-o', 'json']);
  assert.deepEqual(last.out.trim().split('\n').map((l) => JSON.parse(l).flow.uuid), flows.slice(-2).map((f) => f.uuid));
  const first = await cli(['observe', '--server', addr, '--first', '1', '-o', 'json']);
  assert.equal(JSON.parse(first.out).flow.uuid, flows[0]!.uuid);
});

test('-o table prints aligned TIMESTAMP SOURCE DESTINATION TYPE VERDICT SUMMARY columns', async () => {
  const r = await cli(['observe', '--server', addr, '-n', 'payments', '-o', 'table']);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0]!, /^TIMESTAMP +SOURCE +DESTINATION +TYPE +VERDICT +SUMMARY$/);
  assert.match(lines[3]!, /^May {2}1 12:01:01\.000 +payments\/checkout-service:40101 +payments\/payment-service:8080 +http-request +DROPPED +HTTP\/1\.1 DELETE/);
});

test('--follow streams new flows until interrupted', async () => {
  let emitted = false;
  const done = cli(['observe', '--server', addr, '--follow', '--to-namespace', 'live'], (text) => {
    if (text.includes('live-2')) process.emit('SIGINT');
  });
  for (let i = 0; i < 50 && !emitted; i++) {
    await new Promise((r) => setTimeout(r, 20));
    if (i === 10) {
      ring.emit(newFlow({ verdict: 'FORWARDED', Summary: 'live-1', destination: { namespace: 'live', pod_name: 'p' } }));
      ring.emit(newFlow({ verdict: 'FORWARDED', Summary: 'other', destination: { namespace: 'dead', pod_name: 'p' } }));
      ring.emit(newFlow({ verdict: 'DROPPED', Summary: 'live-2', destination: { namespace: 'live', pod_name: 'p' } }));
      emitted = true;
    }
  }
  const r = await done;
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(summaries(r.out), ['live-1', 'live-2']);
});

test('usage errors exit 2 and name the flag', async () => {
  for (const [args, re] of [
    [['--verdict', 'NOPE'], /--verdict: unknown verdict "NOPE"/],
    [['--type', 'bogus'], /--type: unknown event type "bogus"/],
    [['--http-status', 'abc'], /--http-status: want a code/],
    [['-o', 'yaml'], /--output: want one of compact, json, jsonpb, table/],
    [['--since', 'yesterday'], /--since: want a duration/],
    [['--http-path', '(x'], /http_path\[0\]: invalid regular expression/],
    [['--aggregate', 'triples'], /--aggregate: only "pairs"/],
    [['--store', '/nonexistent/flows.db'], /--store: \/nonexistent\/flows\.db: no such flow store/],
    [['--verdict', 'DROPPED', '--not'], /--not must be followed by a filter flag/],
  ] as Array<[string[], RegExp]>) {
    const r = await cli(['observe', '--server', addr, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
  }
});

test('an unreachable server exits 1 with the address and a hint', async () => {
  const r = await cli(['observe', '--server', '127.0.0.1:1']);
  assert.equal(r.code, 1);
  assert.match(r.err, /127\.0\.0\.1:1/);
  assert.match(r.err, /is the agent running\?/);
});

test('--store with filters and --aggregate pairs (table and json)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-cli-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'flows.db');
  const store = new FlowStore(path);
  const now = Date.now();
  const mk = (agoMs: number, src: string, verdict: 'FORWARDED' | 'DROPPED') =>
    newFlow({ time: new Date(now - agoMs).toISOString(), verdict, l4: { TCP: { source_port: 1, destination_port: 8080 } }, is_reply: false, source: { namespace: 'shop', pod_name: src }, destination: { namespace: 'payments', pod_name: 'payment-service' } });
  const day = 86_400_000;
  store.insert([mk(1 * day, 'checkout', 'FORWARDED'), mk(2 * day, 'checkout', 'FORWARDED'), mk(3 * day, 'checkout', 'DROPPED'), mk(2 * day, 'cart', 'DROPPED'), mk(9 * day, 'old', 'FORWARDED')].map((f) => toRow(f)!));
  store.close();
  const table = await cli(['observe', '--store', path, '--namespace', 'payments', '--since', '7d', '--aggregate', 'pairs']);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.trim().split('\n');
  assert.match(lines[0]!, /^SOURCE +DESTINATION +PORT +FLOWS +FORWARDED +DROPPED +OTHER +FIRST-SEEN +LAST-SEEN$/);
  assert.match(lines[1]!, /^shop\/checkout +payments\/payment-service +8080\/TCP +3 +2 +1 +0 +\d{4}-/);
  assert.match(lines[2]!, /^shop\/cart +payments\/payment-service +8080\/TCP +1 +0 +1 +0 /);
  assert.equal(lines.length, 3);
  const json = await cli(['observe', '--store', path, '--namespace', 'payments', '--since', '7d', '--aggregate', 'pairs', '-o', 'json']);
  const first = JSON.parse(json.out.split('\n')[0]!);
  assert.deepEqual([first.source, first.flows, first.verdicts], ['shop/checkout', 3, { FORWARDED: 2, DROPPED: 1 }]);
  assert.equal(first.first_seen, new Date(now - 3 * day).toISOString());
  const flowsOut = await cli(['observe', '--store', path, '--from-pod', 'shop/cart', '-o', 'json']);
  assert.equal(flowsOut.out.trim().split('\n').length, 1);
  assert.equal(JSON.parse(flowsOut.out).flow.source.pod_name, 'cart');
});

test('--aggregate pairs against the server aggregates the returned flows', async () => {
  const r = await cli(['observe', '--server', addr, '-n', 'payments', '--aggregate', 'pairs', '-o', 'json']);
  assert.equal(r.code, 0, r.err);
  const rows = r.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((x) => [x.source, x.destination, x.port, x.flows, x.verdicts]), [
    ['payments/checkout-service', 'payments/payment-service', 8080, 2, { FORWARDED: 1, DROPPED: 1 }],
  ]);
});
