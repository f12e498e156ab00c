/**
 * The proxy fails closed: a policy engine that throws (a bug) denies the request instead of
 * letting it through unjudged. Uses the fake engine (a test double) because the real one does not
 * throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { CallbackSink, type Flow } from '../../observe/index.js';
import { ExplicitRedirectSource, startProxy } from '../../proxy/index.js';
import { fakeSeedEngine } from './helpers/fake-engine.js';
import { rawExchange, startRecordingUpstream, statusCodes } from './helpers/harness.js';

test('an engine that throws while judging denies the request (403) and logs a BUG', async (t) => {
  const engine = fakeSeedEngine({ '127.0.135.20': 'checkout/checkout-service-0' });
  const realConnection = engine.connection.bind(engine);
  engine.connection = (q) => {
    const c = realConnection(q);
    return { ...c, verdict: c.verdict, judgeHttp: () => { throw new Error('boom'); } };
  };
  const up = await startRecordingUpstream('127.0.135.10');
  t.after(() => up.close());
  const lines: string[] = [];
  const flows: Flow[] = [];
  const proxy = await startProxy({
    engine,
    log: pino({ level: 'error' }, { write: (s: string) => void lines.push(s) }),
    flows: new CallbackSink((f) => flows.push(f)),
    redirects: [{ listen: { host: '127.0.135.1', port: 0 }, protocol: 'http', source: new ExplicitRedirectSource({ destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: up.host, port: up.port } }, engine.endpointByIp) }],
  });
  t.after(() => proxy.close());
  const a = proxy.listeners[0]!.address;
  const res = await rawExchange(a.host, a.port, '127.0.135.20', 'GET /api/v1/payments/1 HTTP/1.1\r\nHost: p\r\n\r\n');
  assert.deepEqual(statusCodes(res.text), [403]);
  assert.equal(up.requests.length, 0);
  assert.equal(flows[0]!.verdict, 'DROPPED');
  assert.ok(lines.some((l) => l.includes('BUG: policy engine threw')));
});
