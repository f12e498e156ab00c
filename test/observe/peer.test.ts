/**
 * Hubble's `peer.Peer/Notify` on the Observer address (docs/observe.md, "Peers and Hubble
 * Relay"), driven by a plain grpc-js client that decodes ChangeNotification by hand with the
 * upstream field numbers (name 1, address 2, type 3, tls 4 { server_name 1 }; PEER_ADDED 1,
 * PEER_DELETED 2, PEER_UPDATED 3): existing peers first as PEER_ADDED, then changes; plaintext
 * and mutual TLS (client certificate required and verified).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { isTendrilError } from '../../core/index.js';
import { createObservability, hubbleTlsServerName, ObserverClient, type Observability, type ObserveConfig } from '../../observe/consumers/index.js';
import { makeTestPki, type TestPki } from '../helpers/tls-certs.js';

const log = pino({ level: 'silent' });
const TYPES = ['UNKNOWN', 'PEER_ADDED', 'PEER_DELETED', 'PEER_UPDATED'];

interface Change {
  name: string;
  address: string;
  type: string;
  tls?: { server_name: string };
}

/** Minimal protobuf reader: varints and length-delimited fields only (all ChangeNotification has). */
function fields(buf: Buffer): Array<{ no: number; value: number | Buffer }> {
  const out: Array<{ no: number; value: number | Buffer }> = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key & 7;
    const no = Math.floor(key / 8);
    if (wire === 0) out.push({ no, value: varint() });
    else if (wire === 2) {
      const len = varint();
      out.push({ no, value: buf.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire} for field ${no}`);
  }
  return out;
}

function decodeChange(buf: Buffer): Change {
  const c: Change = { name: '', address: '', type: 'UNKNOWN' };
  for (const f of fields(buf)) {
    if (f.no === 1) c.name = (f.value as Buffer).toString('utf8');
    else if (f.no === 2) c.address = (f.value as Buffer).toString('utf8');
    else if (f.no === 3) c.type = TYPES[f.value as number] ?? `?${f.value}`;
    else if (f.no === 4) {
      c.tls = { server_name: '' };
      for (const t of fields(f.value as Buffer)) if (t.no === 1) c.tls.server_name = (t.value as Buffer).toString('utf8');
    } else throw new Error(`unknown ChangeNotification field ${f.no}`);
  }
  return c;
}

/** A Notify stream as a queue: `next()` resolves with the next notification or rejects on error. */
function notify(address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): { next(): Promise<Change>; close(): void } {
  const client = new grpc.Client(address, creds, options);
  const call = client.makeServerStreamRequest<Buffer, Change>('/peer.Peer/Notify', (b) => b, decodeChange, Buffer.alloc(0));
  const queue: Change[] = [];
  const waiters: Array<{ resolve: (c: Change) => void; reject: (e: Error) => void }> = [];
  let failure: Error | null = null;
  call.on('data', (c: Change) => {
    const w = waiters.shift();
    if (w) w.resolve(c);
    else queue.push(c);
  });
  call.on('error', (e: Error) => {
    failure = e;
    for (const w of waiters.splice(0)) w.reject(e);
  });
  return {
    next() {
      const c = queue.shift();
      if (c) return Promise.resolve(c);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no peer notification within 10 s')), 10_000);
        waiters.push({
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
      });
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}

function config(address: string, tls?: ObserveConfig['tls']): ObserveConfig {
  return {
    enabled: true,
    listenAddress: address,
    eventBufferCapacity: 16,
    metrics: { enabled: [], listenAddress: '127.0.0.1:0' },
    store: { enabled: false, path: '', retention: 86_400_000 },
    ...(tls ? { tls } : {}),
  };
}

async function started(t: { after: (fn: () => Promise<void>) => void }, cfg: ObserveConfig, peers?: 'self' | 'external'): Promise<{ obs: Observability; address: string }> {
  const obs = createObservability({ config: cfg, log, nodeName: 'node-a.example', version: 'test', peers });
  await obs.start();
  t.after(() => obs.stop());
  return { obs, address: (obs.status() as { observer: string }).observer };
}

test('plaintext: Notify sends this node as PEER_ADDED, then added, updated and deleted peers', async (t) => {
  const { obs, address } = await started(t, config('127.0.190.1:0'));
  const a = notify(address, grpc.credentials.createInsecure());
  t.after(() => a.close());
  assert.deepEqual(await a.next(), { name: 'node-a.example', address, type: 'PEER_ADDED' });

  obs.peers.add({ name: 'node-b', address: '127.0.190.2:4244', tls: null });
  assert.deepEqual(await a.next(), { name: 'node-b', address: '127.0.190.2:4244', type: 'PEER_ADDED' });
  obs.peers.update({ name: 'node-b', address: '127.0.190.3:4244', tls: null });
  assert.deepEqual(await a.next(), { name: 'node-b', address: '127.0.190.3:4244', type: 'PEER_UPDATED' });
  // An update that changes nothing is not sent: the next notification is the add of node-c.
  obs.peers.update({ name: 'node-b', address: '127.0.190.3:4244', tls: null });
  obs.peers.add({ name: 'node-c', address: '127.0.190.4:4244', tls: { serverName: 'node-c.default.hubble-grpc.cilium.io' } });
  assert.deepEqual(await a.next(), { name: 'node-c', address: '127.0.190.4:4244', type: 'PEER_ADDED', tls: { server_name: 'node-c.default.hubble-grpc.cilium.io' } });
  obs.peers.delete('node-b');
  assert.deepEqual(await a.next(), { name: 'node-b', address: '127.0.190.3:4244', type: 'PEER_DELETED' });

  // A relay that connects now gets every existing peer as PEER_ADDED (sorted by name).
  const b = notify(address, grpc.credentials.createInsecure());
  t.after(() => b.close());
  assert.deepEqual([await b.next(), await b.next()].map((c) => [c.name, c.type]), [['node-a.example', 'PEER_ADDED'], ['node-c', 'PEER_ADDED']]);
});

test('external peer source (kubernetes mode): the list holds only what the node source adds', async (t) => {
  const { obs, address } = await started(t, config('127.0.190.1:0'), 'external');
  obs.peers.add({ name: 'node-z', address: '127.0.190.9:4244', tls: null });
  const a = notify(address, grpc.credentials.createInsecure());
  t.after(() => a.close());
  assert.deepEqual(await a.next(), { name: 'node-z', address: '127.0.190.9:4244', type: 'PEER_ADDED' });
  obs.peers.add({ name: 'node-y', address: '127.0.190.8:4244', tls: null });
  assert.equal((await a.next()).name, 'node-y');
});

test('mutual TLS: peers carry the TLS server name; clients need a certificate from hubble.tls.ca.cert', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-peer-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki: TestPki = makeTestPki(dir, ['*.default.hubble-grpc.cilium.io']);
  const serverName = hubbleTlsServerName('node-a.example');
  assert.equal(serverName, 'node-a-example.default.hubble-grpc.cilium.io');
  const { address } = await started(t, config('127.0.190.1:0', { enabled: true, server: { cert: pki.serverCert, key: pki.serverKey }, ca: { cert: pki.caCert } }));
  const read = (p: string): Buffer => readFileSync(p);
  const ca = read(pki.caCert);
  const opts = { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName };

  await t.test('a relay with a client certificate from the CA gets the peer list', async () => {
    const a = notify(address, grpc.credentials.createSsl(ca, read(pki.clientKey), read(pki.clientCert)), opts);
    try {
      assert.deepEqual(await a.next(), { name: 'node-a.example', address, type: 'PEER_ADDED', tls: { server_name: serverName } });
    } finally {
      a.close();
    }
  });
  await t.test('the Observer API on the same address answers over the same TLS', async () => {
    const c = new ObserverClient(address, { caFiles: [pki.caCert], clientCertFile: pki.clientCert, clientKeyFile: pki.clientKey, serverName });
    try {
      assert.equal(await c.healthCheck(), 'SERVING');
      const nodes = await c.getNodes();
      assert.equal(nodes.nodes?.[0]?.tls?.enabled, true);
    } finally {
      c.close();
    }
  });
  for (const [name, creds] of [
    ['no client certificate', () => grpc.credentials.createSsl(ca)],
    ['a client certificate from another CA', () => grpc.credentials.createSsl(ca, read(pki.rogueKey), read(pki.rogueCert))],
    ['plaintext', () => grpc.credentials.createInsecure()],
  ] as const) {
    await t.test(`refused: ${name}`, async () => {
      const a = notify(address, creds(), opts);
      try {
        await assert.rejects(a.next(), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
      } finally {
        a.close();
      }
    });
  }
});

test('hubble.tls.enabled without a certificate fails the start naming the key', () => {
  for (const [tls, key] of [
    [{ enabled: true, server: { cert: '', key: '/x' }, ca: { cert: '/x' } }, 'hubble.tls.server.cert'],
    [{ enabled: true, server: { cert: '/nonexistent/c.pem', key: '/x' }, ca: { cert: '/x' } }, 'hubble.tls.server.cert'],
  ] as const) {
    assert.throws(
      () => createObservability({ config: config('127.0.190.1:0', tls), log, nodeName: 'n', version: 't' }),
      (e: unknown) => isTendrilError(e) && e.code === 'TND_OBSERVE_TLS' && e.message.includes(key),
    );
  }
});
