/**
 * CONNECT is judged like a request (method CONNECT, path = the authority): denied by the seed
 * policy, tunnelled to the redirect's upstream when a rule allows `method: CONNECT`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CallbackSink } from '../../observe/index.js';
import { createEngine, loadPolicies, loadWorld } from '../../policy/index.js';
import { ExplicitRedirectSource, startProxy } from '../../proxy/index.js';
import { startTcpServer } from '../helpers/servers.js';
import { rawExchange, statusCodes } from './helpers/harness.js';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: tunnel, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: checkout-service, k8s:io.kubernetes.pod.namespace: checkout}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: CONNECT}]
`;

test('CONNECT: tunnelled when a rule allows it, 403 for other sources; 503 when the upstream is down', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-proxy-connect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'p.yaml'), POLICY);
  writeFileSync(
    join(dir, 'world.yaml'),
    'endpoints:\n  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [127.0.136.10]}\n  - {name: checkout-service-0, namespace: checkout, labels: {app: checkout-service}, ips: [127.0.136.20]}\n',
  );
  const world = loadWorld(join(dir, 'world.yaml'));
  const engine = createEngine({ policies: loadPolicies([join(dir, 'p.yaml')]), world });
  const received: string[] = [];
  const upstream = await startTcpServer((s) => {
    let first = true;
    s.on('data', (d: Buffer) => {
      received.push(d.toString('latin1'));
      if (first) {
        first = false;
        s.write('HTTP/1.1 200 Connection established\r\n\r\n');
        const rest = d.toString('latin1').split('\r\n\r\n')[1];
        if (rest) s.write(`echo:${rest}`);
        return;
      }
      s.write(`echo:${d.toString('latin1')}`);
    });
    s.on('error', () => undefined);
  }, '127.0.136.10');
  t.after(() => upstream.close());
  const start = async (port: number) => {
    const p = await startProxy({
      engine,
      log: pino({ level: 'silent' }),
      flows: new CallbackSink(() => undefined),
      redirects: [{ listen: { host: '127.0.136.1', port: 0 }, protocol: 'http', source: new ExplicitRedirectSource({ destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: '127.0.136.10', port } }, (ip) => engine.endpointByIp(ip)) }],
    });
    t.after(() => p.close());
    return p.listeners[0]!.address;
  };
  const a = await start(upstream.port);
  const tunnel = await new Promise<string>((resolve) => {
    const s = net.connect({ host: a.host, port: a.port, localAddress: '127.0.136.20' });
    let text = '';
    s.on('connect', () => s.write('CONNECT payment-service:8080 HTTP/1.1\r\nHost: payment-service:8080\r\n\r\nping'));
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('echo:ping') && !text.includes('echo:pong')) s.write('pong');
      if (text.includes('echo:pong')) s.destroy();
    });
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  assert.match(tunnel, /^HTTP\/1\.1 200 Connection established\r\n\r\n/);
  assert.ok(tunnel.includes('echo:ping') && tunnel.includes('echo:pong'), tunnel);
  assert.match(received[0]!, /^CONNECT payment-service:8080 HTTP\/1\.1\r\nhost: payment-service:8080\r\n\r\n/);
  const before = received.length;
  const denied = await rawExchange(a.host, a.port, '127.0.136.66', 'CONNECT payment-service:8080 HTTP/1.1\r\nHost: payment-service:8080\r\n\r\n');
  assert.deepEqual(statusCodes(denied.text), [403]);
  assert.equal(received.length, before, 'a denied CONNECT never reaches the upstream');
  const get = await rawExchange(a.host, a.port, '127.0.136.20', 'GET /x HTTP/1.1\r\nHost: p\r\n\r\n');
  assert.deepEqual(statusCodes(get.text), [403], 'only CONNECT is allowed by this policy');
  await upstream.close();
  const down = await rawExchange(a.host, a.port, '127.0.136.20', 'CONNECT payment-service:8080 HTTP/1.1\r\nHost: payment-service:8080\r\n\r\n');
  assert.deepEqual(statusCodes(down.text), [503]);
});
