import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowSlots } from './flow-slots.js';
import { newFlow, outcomeFromVerdict } from './new-flow.js';
import type { Flow } from './flow.js';
import { specExamples, paymentsFlows } from '../test/observe/fixtures.js';

const json = (f: Flow | undefined): unknown => JSON.parse(JSON.stringify(f));
const src = { namespace: 'checkout', pod_name: 'c-0', labels: ['k8s:app=c'] };
const dst = { namespace: 'payments', pod_name: 'p-0', labels: ['k8s:app=p'] };

function proxyFlow(i: number, reply: boolean, extra: Partial<Flow> = {}): Flow {
  return newFlow({
    node_name: 'n',
    IP: { source: '127.0.0.1', destination: '127.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 40000 + i, destination_port: 8080 } },
    source: reply ? dst : src,
    destination: reply ? src : dst,
    is_reply: reply,
    traffic_direction: 'INGRESS',
    proxy_port: 15001,
    ...outcomeFromVerdict({ allowed: i % 3 !== 0, authRequired: false, l7: 'http', reason: 'r', policy: 'payments/pol', rule: 'ingress[0]' }),
    l7: reply
      ? { type: 'RESPONSE', latency_ns: 1_234_567 * i, http: { code: 200 + i, method: 'GET', url: `http://p/x${i}`, protocol: 'HTTP/1.1' } }
      : { type: 'REQUEST', http: { code: 0, method: 'POST', url: `http://p/y${i}`, protocol: 'HTTP/1.1' } },
    ...extra,
  });
}

test('compacted flows read back JSON-equal, including the uuid, time and Summary', () => {
  const slots = new FlowSlots(64);
  const flows = Array.from({ length: 40 }, (_, i) => proxyFlow(i, i % 2 === 1));
  flows.push(proxyFlow(99, false, { Summary: 'custom summary' }));
  flows.push(proxyFlow(98, true, { time: '2026-05-01T12:00:00.000000001Z', uuid: '00000000-0000-4000-8000-000000000000' }));
  flows.forEach((f, k) => slots.put(k, f));
  flows.forEach((f, k) => {
    const got = slots.get(k)!;
    assert.notEqual(got, f, 'rebuilt, not retained');
    assert.deepEqual(json(got), json(f), `flow ${k}`);
  });
});

test('other shapes are kept as objects; slots can switch between the two', () => {
  const slots = new FlowSlots(4);
  const others = [...specExamples().map((x) => x.flow), ...paymentsFlows()];
  for (const f of others) {
    slots.put(0, f);
    const compacted = slots.get(0) !== f;
    assert.deepEqual(json(slots.get(0)), json(f));
    // The spec fixtures have 3-digit times or no HTTP record: kept as is.
    assert.equal(compacted, false);
  }
  const p = proxyFlow(1, false);
  slots.put(0, p);
  assert.deepEqual(json(slots.get(0)), json(p));
  const tcpFlags = newFlow({ verdict: 'FORWARDED', IP: { source: 'a', destination: 'b', ipVersion: 'IPv4' }, l4: { TCP: { source_port: 1, destination_port: 2, flags: { SYN: true } } } });
  slots.put(0, tcpFlags);
  assert.equal(slots.get(0), tcpFlags);
  assert.equal(slots.get(3), undefined);
});
