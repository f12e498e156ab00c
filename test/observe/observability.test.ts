/**
 * createObservability end to end: flows emitted into the one sink reach the ring (and the
 * Observer API), the metrics listener and the store; stop() flushes the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import pino from 'pino';
import type { Flow } from '../../observe/index.js';
import { createObservability, FlowStore, ObserverClient } from '../../observe/consumers/index.js';
import { paymentsFlows } from './fixtures.js';

const log = pino({ level: 'silent' });

test('one sink feeds ring, Observer API, metrics and store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-obs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'flows.db');
  const obs = createObservability({
    config: {
      enabled: true,
      listenAddress: '127.0.0.1:0',
      eventBufferCapacity: 64,
      metrics: { enabled: ['http', 'drop', 'flow'], listenAddress: '127.0.0.1:0' },
      store: { enabled: true, path, retention: 3650 * 86_400_000 },
    },
    log,
    nodeName: 'node-x',
    version: 'test',
  });
  await obs.start();
  let stopped = false;
  t.after(async () => {
    if (!stopped) await obs.stop();
  });
  const flows = paymentsFlows().map((f) => ({ ...f, node_name: '' }) as Flow);
  for (const f of flows) obs.sink.emit(f);
  assert.equal(obs.ring.size, 3);
  assert.equal(flows[0]!.node_name, 'node-x', 'node name stamped on flows without one');

  const st = obs.status() as { observer: string; metrics: string };
  const client = new ObserverClient(st.observer);
  t.after(() => client.close());
  const got: Flow[] = [];
  for await (const e of client.getFlows({ number: 10 }).events) if ('flow' in e) got.push(e.flow);
  assert.deepEqual(got.map((f) => f.uuid), flows.map((f) => f.uuid));
  assert.equal((await client.serverStatus()).max_flows, 64);

  const body = await (await request(`http://${st.metrics}/metrics`)).body.text();
  assert.match(body, /^hubble_drop_total\{protocol="HTTP",reason="POLICY_DENIED"\} 1$/m);
  assert.match(body, /^hubble_http_responses_total\{method="GET",protocol="HTTP\/1\.1",reporter="server",status="200"\} 1$/m);

  await obs.stop();
  stopped = true;
  const store = new FlowStore(path);
  t.after(() => store.close());
  assert.equal(store.count(), 3, 'stop() flushed the pending batch');
});

test('hubble disabled: the sink reports enabled=false and nothing listens', async () => {
  const obs = createObservability({
    config: { enabled: false, listenAddress: '127.0.0.1:0', eventBufferCapacity: 8, metrics: { enabled: [], listenAddress: '127.0.0.1:0' }, store: { enabled: false, path: '', retention: 86_400_000 } },
    log,
    nodeName: 'n',
    version: 't',
  });
  await obs.start();
  assert.equal(obs.sink.enabled, false);
  obs.sink.emit(paymentsFlows()[0]!);
  assert.equal(obs.ring.size, 0);
  await obs.stop();
});

test('a bad metric list fails at construction, naming the config field', () => {
  const base = { enabled: true, listenAddress: '127.0.0.1:0', eventBufferCapacity: 8, metrics: { enabled: ['drop'], listenAddress: '127.0.0.1:0' }, store: { enabled: false, path: '', retention: 30 * 86_400_000 } };
  assert.throws(() => createObservability({ config: { ...base, metrics: { ...base.metrics, enabled: ['drops'] } }, log, nodeName: 'n', version: 't' }), /hubble\.metrics\.enabled\[0\]: unknown metric "drops"/);
});

test('a taken listen address fails start() with TND_OBSERVE_LISTEN and releases what was opened', async (t) => {
  const first = createObservability({ config: { enabled: true, listenAddress: '127.0.0.1:0', eventBufferCapacity: 8, metrics: { enabled: ['drop'], listenAddress: '127.0.0.1:0' }, store: { enabled: false, path: '', retention: 86_400_000 } }, log, nodeName: 'n', version: 't' });
  await first.start();
  t.after(() => first.stop());
  const taken = (first.status() as { metrics: string }).metrics;
  const second = createObservability({ config: { enabled: true, listenAddress: '127.0.0.1:0', eventBufferCapacity: 8, metrics: { enabled: ['drop'], listenAddress: taken }, store: { enabled: false, path: '', retention: 86_400_000 } }, log, nodeName: 'n', version: 't' });
  await assert.rejects(second.start(), (err: any) => err.code === 'TND_OBSERVE_LISTEN' && err.message.includes(taken));
});
