import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { CallbackSink, FanoutSink, JsonLinesSink, NULL_SINK } from './sink.js';
import { newFlow, outcomeFromVerdict, formatFlowTime, parseFlowTime } from './new-flow.js';
import type { Flow } from './flow.js';

const flow = (): Flow => newFlow({ verdict: 'FORWARDED', l7: { type: 'REQUEST', http: { code: 0, method: 'GET', url: 'http://a/b', protocol: 'HTTP/1.1' } } });

test('JsonLinesSink writes one JSON object per line', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const sink = new JsonLinesSink(out);
  const a = flow();
  const b = flow();
  sink.emit(a);
  sink.emit(b);
  await sink.close();
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines, [JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b))]);
});

test('JsonLinesSink drops and counts instead of buffering without bound', () => {
  const stuck = new Writable({ highWaterMark: 16, write(_c, _e, _cb) { /* never completes */ } });
  const sink = new JsonLinesSink(stuck, { maxBufferedBytes: 1000 });
  for (let i = 0; i < 100; i++) sink.emit(flow());
  assert.ok(sink.lost > 90, `lost ${sink.lost}`);
  assert.equal(sink.written + sink.lost, 100);
});

test('FanoutSink isolates a throwing member and reports enabled only with members', () => {
  const seen: string[] = [];
  const errors: unknown[] = [];
  const fan = new FanoutSink([], (e) => errors.push(e));
  assert.equal(fan.enabled, false);
  fan.add({ emit: () => { throw new Error('boom'); } });
  const remove = fan.add(new CallbackSink((f) => seen.push(f.uuid)));
  assert.equal(fan.enabled, true);
  const f = flow();
  fan.emit(f);
  assert.deepEqual(seen, [f.uuid]);
  assert.equal(fan.errors, 1);
  remove();
  fan.emit(flow());
  assert.equal(seen.length, 1);
  assert.equal(NULL_SINK.enabled, false);
});

test('newFlow fills time, uuid, Type, event_type and Summary', () => {
  const f = flow();
  assert.match(f.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.match(f.uuid, /^[0-9a-f-]{36}$/);
  assert.equal(f.Type, 'L7');
  assert.deepEqual(f.event_type, { type: 129 });
  assert.equal(f.Summary, 'HTTP/1.1 GET http://a/b');
  const d = newFlow({ verdict: 'DROPPED', l4: { TCP: { source_port: 1, destination_port: 2, flags: { SYN: true } } } });
  assert.deepEqual([d.Type, d.event_type, d.Summary], ['L3_L4', { type: 1, sub_type: 133 }, 'TCP Flags: SYN']);
  assert.equal(parseFlowTime(formatFlowTime(1_777_000_000_123_456_789n)), 1_777_000_000_123_456_789n);
});

test('outcomeFromVerdict names the deciding policy on every denial', () => {
  const denied = outcomeFromVerdict({ allowed: false, authRequired: false, l7: 'http', reason: 'no HTTP rule matched', policy: 'payments/payment-l7', rule: 'ingress[0].toPorts[0].rules.http[1]', ingress: { verdict: 'denied', policy: 'payments/payment-l7', rule: 'ingress[0].toPorts[0].rules.http[1]' }, egress: { verdict: 'allowed' } });
  assert.equal(denied.verdict, 'DROPPED');
  assert.equal(denied.drop_reason_desc, 'POLICY_DENIED');
  assert.deepEqual(denied.ingress_denied_by, [{ name: 'payment-l7', namespace: 'payments', rule: 'ingress[0].toPorts[0].rules.http[1]' }]);
  assert.equal(denied.egress_denied_by, undefined);
  assert.deepEqual(denied.policy_log, ['no HTTP rule matched']);
  const dflt = outcomeFromVerdict({ allowed: false, authRequired: false, l7: null, reason: 'default deny', egress: { verdict: 'denied' } });
  assert.deepEqual(dflt.egress_denied_by, [{ name: 'default-deny', rule: undefined }]);
  const ok = outcomeFromVerdict({ allowed: true, authRequired: true, l7: 'http', reason: 'allowed', ingress: { verdict: 'allowed', policy: 'ccnp-all' } });
  assert.deepEqual([ok.verdict, ok.auth_type, ok.ingress_allowed_by], ['FORWARDED', 'SPIRE', [{ name: 'ccnp-all' }]]);
});
