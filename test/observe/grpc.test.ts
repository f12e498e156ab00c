/**
 * The Observer gRPC API against a grpc-js client built from observe/proto: status, nodes,
 * namespaces, health, GetFlows selectors, server-side filter semantics and follow mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { newFlow, type Flow } from '../../observe/index.js';
import { FlowRing } from '../../observe/consumers/index.js';
import { ObserverServer } from '../../observe/grpc-server.js';
import { ObserverClient, type FlowsEvent } from '../../observe/grpc-client.js';
import { loadHubbleGrpc } from '../../observe/proto-load.js';
import { specExamples, paymentsFlows } from './fixtures.js';

const log = pino({ level: 'silent' });

async function setup(t: { after: (fn: () => Promise<void> | void) => void }, capacity = 4096) {
  const ring = new FlowRing(capacity);
  const server = new ObserverServer({ ring, log, nodeName: 'node-1', version: 'tendril-test', address: '127.0.0.1:0' });
  const address = await server.start();
  const client = new ObserverClient(address);
  t.after(async () => {
    client.close();
    await server.stop();
  });
  return { ring, server, client, address };
}

async function collect(events: AsyncIterable<FlowsEvent>): Promise<Flow[]> {
  const out: Flow[] = [];
  for await (const e of events) if ('flow' in e) out.push(e.flow);
  return out;
}

const fill = (ring: FlowRing): Flow[] => {
  const flows = [...specExamples().map((x) => x.flow), ...paymentsFlows()];
  for (const f of flows) ring.emit(f);
  return flows;
};

test('health check answers SERVING for hubble.server.Observer and ""', async (t) => {
  const { client } = await setup(t);
  assert.equal(await client.healthCheck('hubble.server.Observer'), 'SERVING');
  assert.equal(await client.healthCheck(''), 'SERVING');
  await assert.rejects(client.healthCheck('nope.Service'), /NOT_FOUND|unknown service/);
});

test('ServerStatus, GetNodes and GetNamespaces report the ring', async (t) => {
  const { ring, client } = await setup(t, 8);
  const now = new Date().toISOString();
  const flows = fill(ring).length;
  ring.emit(newFlow({ verdict: 'FORWARDED', source: { namespace: 'zeta', pod_name: 'a' }, destination: { namespace: 'alpha', pod_name: 'b' } }));
  const st = await client.serverStatus();
  assert.equal(st.num_flows, 8);
  assert.equal(st.max_flows, 8);
  assert.equal(st.seen_flows, flows + 1);
  assert.ok(st.uptime_ns >= 0);
  assert.equal(st.num_connected_nodes.value, 1);
  assert.equal(st.version, 'tendril-test');
  const nodes = (await client.getNodes()).nodes ?? [];
  assert.equal(nodes.length, 1);
  assert.equal(nodes[0]!.name, 'node-1');
  assert.equal(nodes[0]!.state, 'NODE_CONNECTED');
  assert.equal(nodes[0]!.max_flows, 8);
  // Only the fresh flow is within the last hour (the fixtures are dated May 2026).
  assert.ok(now.length > 0);
  const ns = (await client.getNamespaces()).namespaces ?? [];
  assert.deepEqual(ns.map((n) => n.namespace), ['alpha', 'zeta']);
});

test('GetFlows number returns the last N, first returns the oldest N, fields survive the wire', async (t) => {
  const { ring, client } = await setup(t);
  const flows = fill(ring);
  const last2 = await collect(client.getFlows({ number: 2 }).events);
  assert.deepEqual(last2.map((f) => f.uuid), flows.slice(-2).map((f) => f.uuid));
  const first3 = await collect(client.getFlows({ number: 3, first: true }).events);
  assert.deepEqual(first3.map((f) => f.uuid), flows.slice(0, 3).map((f) => f.uuid));
  const all = await collect(client.getFlows({}).events);
  assert.equal(all.length, flows.length);
  // Round trip equality: every field we set comes back (time at ns precision, enums by name).
  for (let i = 0; i < flows.length; i++) {
    const want = JSON.parse(JSON.stringify(flows[i]));
    assert.deepEqual(normalize(all[i]!), normalize(want), `flow ${i}`);
  }
});

/** Drops empty arrays/false-y defaults proto3 does not distinguish, and pads time to 9 digits. */
function normalize(f: Record<string, any>): unknown {
  const walk = (o: any): any => {
    if (Array.isArray(o)) return o.length === 0 ? undefined : o.map(walk);
    if (o && typeof o === 'object') {
      const out: Record<string, any> = {};
      for (const [k, v] of Object.entries(o)) {
        const w = walk(v);
        if (w === undefined || w === 0 || w === '' || w === false) {
          if (k === 'is_reply' && w === false) out[k] = false;
          continue;
        }
        out[k] = w;
      }
      return out;
    }
    return o;
  };
  const out = walk(f);
  out.time = out.time.replace(/\.(\d+)Z$/, (_: string, d: string) => `.${d.padEnd(9, '0')}Z`);
  return out;
}

test('since/until bound the backlog by flow time', async (t) => {
  const { ring, client } = await setup(t);
  fill(ring);
  const ns = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;
  const got = await collect(client.getFlows({ sinceNs: ns('2026-05-01T12:00:02.000Z'), untilNs: ns('2026-05-01T12:00:03.002Z') }).events);
  assert.deepEqual(got.map((f) => f.time.slice(11, 23)), ['12:00:02.000', '12:00:02.003', '12:00:03.000', '12:00:03.002']);
});

test('whitelist filters are ORed, fields within one filter are ANDed, blacklist subtracts', async (t) => {
  const { ring, client } = await setup(t);
  fill(ring);
  const and = await collect(client.getFlows({ whitelist: [{ source_pod: ['payments/'], verdict: ['DROPPED'] }] }).events);
  assert.deepEqual(and.map((f) => f.l7?.http?.method), ['DELETE']);
  const or = await collect(client.getFlows({ whitelist: [{ destination_pod: ['kafka/'] }, { verdict: ['DROPPED'] }] }).events);
  assert.deepEqual(or.map((f) => f.Summary), ['TCP Flags: SYN', "Kafka request produce correlation id 7 topic 'empire-announce'", 'HTTP/1.1 DELETE http://payment-service/api/v1/payments']);
  const minus = await collect(client.getFlows({ whitelist: [{ protocol: ['http'] }], blacklist: [{ http_method: ['DELETE'] }, { http_status_code: ['2+'] }] }).events);
  assert.deepEqual(minus.map((f) => f.l7?.http?.url), ['http://deathstar.default.svc.cluster.local/v1/request-landing', 'http://payment-service/api/v1/payments/P123']);
  const values = await collect(client.getFlows({ whitelist: [{ http_method: ['get', 'post'], reply: [false] }] }).events);
  assert.deepEqual(values.map((f) => f.l7?.http?.method), ['POST', 'GET']);
});

test('invalid filters are rejected with INVALID_ARGUMENT naming the field', async (t) => {
  const { ring, client } = await setup(t);
  fill(ring);
  await assert.rejects(collect(client.getFlows({ whitelist: [{ http_path: ['(unclosed'] }] }).events), /whitelist\[0\]\.http_path\[0\]: invalid regular expression/);
  await assert.rejects(collect(client.getFlows({ whitelist: [{}, { source_pod: [''] }] }).events), /whitelist\[1\]\.source_pod\[0\]: empty pod filter/);
  await assert.rejects(
    collect(client.getFlows({ whitelist: [{ http_method: ['GET'], event_type: [{ type: 1 }] }] }).events),
    /whitelist\[0\]\.event_type: http_status_code and http_method filters need an event_type that includes 129/,
  );
});

test('follow streams new matching flows after the backlog until cancelled', async (t) => {
  const { ring, client } = await setup(t);
  fill(ring);
  const { events, cancel } = client.getFlows({ number: 1, follow: true, whitelist: [{ destination_pod: ['payments/payment'] }] });
  const got: Flow[] = [];
  const it = events[Symbol.asyncIterator]();
  const next = async () => {
    const r = await Promise.race([it.next(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout waiting for a followed flow')), 5000))]);
    if (r.done) throw new Error('stream ended early');
    if ('flow' in r.value) got.push(r.value.flow);
  };
  await next();
  assert.equal(got[0]!.l7?.http?.method, 'DELETE');
  // Emit non-matching and matching flows after subscribing.
  ring.emit(newFlow({ verdict: 'FORWARDED', source: { namespace: 'x', pod_name: 'y' }, destination: { namespace: 'other', pod_name: 'z' } }));
  ring.emit(newFlow({ verdict: 'FORWARDED', Summary: 'live-1', destination: { namespace: 'payments', pod_name: 'payment-service' } }));
  await next();
  ring.emit(newFlow({ verdict: 'DROPPED', Summary: 'live-2', destination: { namespace: 'payments', pod_name: 'payment-service' } }));
  await next();
  assert.deepEqual(got.map((f) => f.Summary).slice(1), ['live-1', 'live-2']);
  cancel();
  const end = await it.next();
  assert.equal(end.done, true);
});

test('follow with number 0 sends only new flows', async (t) => {
  const { ring, client } = await setup(t);
  fill(ring);
  const { events, cancel } = client.getFlows({ follow: true });
  const it = events[Symbol.asyncIterator]();
  setTimeout(() => ring.emit(newFlow({ verdict: 'FORWARDED', Summary: 'only-new' })), 100);
  const r = await it.next();
  assert.ok(!r.done && 'flow' in r.value && r.value.flow.Summary === 'only-new');
  cancel();
});

test('a follower lapped by the writer receives a LostEvent', async (t) => {
  const { ring, client } = await setup(t, 4);
  const { events, cancel } = client.getFlows({ follow: true });
  const it = events[Symbol.asyncIterator]();
  // Give the server time to subscribe, then write 10 flows into a ring of 4 in one tick.
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 10; i++) ring.emit(newFlow({ verdict: 'FORWARDED', Summary: `f${i}` }));
  const seen: FlowsEvent[] = [];
  for (let i = 0; i < 5; i++) seen.push((await it.next()).value as FlowsEvent);
  cancel();
  assert.deepEqual(seen[0], { lost: { source: 'HUBBLE_RING_BUFFER', num_events_lost: 6 } });
  assert.deepEqual(seen.slice(1).map((e) => ('flow' in e ? e.flow.Summary : '')), ['f6', 'f7', 'f8', 'f9']);
});

test('GetAgentEvents and GetDebugEvents end at once', async (t) => {
  const { address } = await setup(t);
  const { Observer } = loadHubbleGrpc();
  const c = new Observer(address, grpc.credentials.createInsecure()) as any;
  t.after(() => c.close());
  for (const m of ['GetAgentEvents', 'GetDebugEvents']) {
    const items: unknown[] = [];
    for await (const x of c[m]({ number: 1 })) items.push(x);
    assert.equal(items.length, 0, m);
  }
});
