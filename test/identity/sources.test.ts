/**
 * The SPIFFE sources against an in-test SPIRE agent on unix sockets (real grpc-js client and
 * server, same protos): Workload API and Delegated Identity API, rotation, server restarts,
 * keep-last-good until expiry, invalid messages, PERMISSION_DENIED and INVALID_ARGUMENT.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  DelegatedIdentityClient,
  SvidStore,
  WorkloadApiClient,
  backoffDelay,
  grpcTarget,
  k8sSelectors,
  loadSpiffeGrpc,
  workloadApiAddress,
  type SvidChange,
} from '../../identity/index.js';
import { FakeSpire } from './fake-spire.js';
import { OpensslPki, forgeIssue, type Issued } from './pki.js';

const TD = 'cluster.local';
const FAST = { initialMs: 30, factor: 2, jitter: 0.2, maxMs: 200 };
const idOf = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

const pki = new OpensslPki();
const dir = mkdtempSync(join(tmpdir(), 'tendril-spire-'));
let root: Issued;
let int: Issued;
const leaves: Record<string, Issued> = {};

before(() => {
  root = pki.root('root', TD);
  int = pki.intermediate('int', root, TD);
  for (const [name, ns, sa] of [
    ['node', 'kube-system', 'tendril'],
    ['node2', 'kube-system', 'tendril'],
    ['pay', 'payments', 'payment-service'],
    ['pay2', 'payments', 'payment-service'],
    ['checkout', 'shop', 'checkout'],
  ] as const) {
    leaves[name] = pki.leaf(name, int, `URI:${idOf(ns, sa)}`);
  }
});

after(() => {
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function nextChange(store: SvidStore, pred: (c: SvidChange) => boolean, ms = 10_000): Promise<SvidChange> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      store.off('change', on);
      reject(new Error('timed out waiting for an SVID change'));
    }, ms);
    const on = (c: SvidChange): void => {
      if (!pred(c)) return;
      clearTimeout(t);
      store.off('change', on);
      resolve(c);
    };
    store.on('change', on);
  });
}

function until(cond: () => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() - start > ms) return reject(new Error('condition not reached'));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe('Workload API client', () => {
  test('first SVID and bundles, rotation, restart with keep-last-good, invalid message, PERMISSION_DENIED', async () => {
    const sock = join(dir, 'agent.sock');
    const spire = new FakeSpire(sock);
    spire.workload = [{ id: idOf('kube-system', 'tendril'), leaf: leaves['node']!, intermediates: [int] }];
    spire.bundles.set(TD, [root]);
    await spire.start();
    const store = new SvidStore();
    const client = new WorkloadApiClient(`unix://${sock}`, store, FAST);
    const invalid: string[] = [];
    client.on('invalid', (m) => invalid.push(m));
    try {
      const added = nextChange(store, (c) => c.kind === 'added');
      client.start();
      const c1 = await added;
      assert.equal(c1.svid.spiffeId, idOf('kube-system', 'tendril'));
      assert.equal(c1.svid.chain.length, 2, 'concatenated DER chain split into leaf + intermediate');
      await until(() => store.bundles.get(TD)?.length === 1);
      assert.ok(store.bundles.get(TD)![0]!.raw.equals(root.certDer));
      assert.ok(client.status().svids.connected);

      // Rotation: a new certificate for the same ID.
      const rotated = nextChange(store, (c) => c.kind === 'rotated');
      spire.workload = [{ id: idOf('kube-system', 'tendril'), leaf: leaves['node2']!, intermediates: [int] }];
      spire.push();
      const c2 = await rotated;
      assert.equal(c2.kind === 'rotated' && c2.previous.serial, leaves['node']!.cert.serialNumber);
      assert.equal(store.get(idOf('kube-system', 'tendril'))!.serial, leaves['node2']!.cert.serialNumber);
      assert.equal(store.rotations, 1);

      // An invalid message (key of another certificate) is discarded; the state is kept.
      spire.corruptNext = leaves['pay'];
      spire.workload = [{ id: idOf('kube-system', 'tendril'), leaf: leaves['node']!, intermediates: [int] }];
      spire.push();
      await until(() => invalid.length > 0);
      assert.match(invalid[0]!, /private key does not match/);
      assert.equal(store.get(idOf('kube-system', 'tendril'))!.serial, leaves['node2']!.cert.serialNumber);

      // Server restart: the SVID is kept while disconnected, then the client reconnects by itself.
      await spire.stop();
      await until(() => !client.status().svids.connected);
      assert.ok(store.get(idOf('kube-system', 'tendril')), 'kept while the server is down');
      spire.workload = [{ id: idOf('kube-system', 'tendril'), leaf: leaves['node']!, intermediates: [int] }];
      const back = nextChange(store, (c) => c.kind === 'rotated');
      await spire.start();
      await back;
      assert.ok(client.status().svids.connected);
      assert.ok(client.status().svids.reconnects >= 1);
      assert.equal(store.get(idOf('kube-system', 'tendril'))!.serial, leaves['node']!.cert.serialNumber);

      // PERMISSION_DENIED withdraws the SVIDs at once.
      const removed = nextChange(store, (c) => c.kind === 'removed');
      spire.failWith = { code: grpc.status.PERMISSION_DENIED, details: 'no identity issued' };
      spire.failAll(grpc.status.PERMISSION_DENIED, 'no identity issued');
      const c3 = await removed;
      assert.equal(c3.kind === 'removed' && c3.reason, 'withdrawn');
      assert.equal(store.get(idOf('kube-system', 'tendril')), undefined);
      await until(() => (client.status().svids.lastError ?? '').includes('PERMISSION_DENIED'));
      // ...and the client keeps retrying with backoff; once the server issues again, it recovers.
      spire.failWith = undefined;
      await nextChange(store, (c) => c.kind === 'added');
    } finally {
      client.stop();
      store.close();
      await spire.stop();
    }
  });

  test('an SVID is kept while the server is gone only until its notAfter', async () => {
    const sock = join(dir, 'short.sock');
    const rsaRoot = forgeIssue('rsa-root', undefined, { ca: true, keyUsage: { keyCertSign: true, critical: true }, uris: [`spiffe://${TD}`] });
    const short = forgeIssue('short', rsaRoot, { uris: [idOf('shop', 'checkout')], keyUsage: { digitalSignature: true, critical: true }, seconds: 3 });
    const spire = new FakeSpire(sock);
    spire.workload = [{ id: idOf('shop', 'checkout'), leaf: short }];
    spire.bundles.set(TD, [rsaRoot]);
    await spire.start();
    const store = new SvidStore();
    const client = new WorkloadApiClient(`unix://${sock}`, store, FAST);
    try {
      const added = nextChange(store, (c) => c.kind === 'added');
      client.start();
      await added;
      await spire.stop();
      const expired = await nextChange(store, (c) => c.kind === 'removed');
      assert.equal(expired.kind === 'removed' && expired.reason, 'expired');
      assert.ok(Date.now() >= new Date(short.cert.validTo).getTime(), 'removed no earlier than notAfter');
      assert.equal(store.get(idOf('shop', 'checkout')), undefined);
    } finally {
      client.stop();
      store.close();
    }
  });

  test('a call without the security header is refused with INVALID_ARGUMENT; the client treats that as fatal', async () => {
    const sock = join(dir, 'hdr.sock');
    const spire = new FakeSpire(sock);
    spire.workload = [{ id: idOf('shop', 'checkout'), leaf: leaves['checkout']!, intermediates: [int] }];
    spire.bundles.set(TD, [root]);
    await spire.start();
    try {
      const { SpiffeWorkloadAPI } = loadSpiffeGrpc();
      const raw = new SpiffeWorkloadAPI(`unix://${sock}`, grpc.credentials.createInsecure());
      const call = (raw as unknown as { FetchX509SVID: (r: object) => grpc.ClientReadableStream<unknown> }).FetchX509SVID({});
      const [err] = (await once(call, 'error')) as [grpc.ServiceError];
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /security header missing/);
      raw.close();

      spire.failWith = { code: grpc.status.INVALID_ARGUMENT, details: 'bad request' };
      const store = new SvidStore();
      const client = new WorkloadApiClient(`unix://${sock}`, store, FAST);
      const fatal = once(client, 'fatal');
      client.start();
      const [msg] = (await fatal) as [string];
      assert.match(msg, /INVALID_ARGUMENT/);
      const calls = spire.calls;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(spire.calls, calls, 'no retry after INVALID_ARGUMENT (backoff is 30 ms here)');
      assert.ok(client.status().bundles.stopped);
      assert.ok(client.status().svids.stopped);
      client.stop();
      store.close();
    } finally {
      await spire.stop();
    }
  });

  test('a missing socket is UNAVAILABLE and retried until the server appears', async () => {
    const sock = join(dir, 'late.sock');
    const store = new SvidStore();
    const client = new WorkloadApiClient(`unix://${sock}`, store, FAST);
    const spire = new FakeSpire(sock);
    try {
      client.start();
      await until(() => (client.status().svids.lastError ?? '').startsWith('UNAVAILABLE'));
      spire.workload = [{ id: idOf('shop', 'checkout'), leaf: leaves['checkout']!, intermediates: [int] }];
      spire.bundles.set(TD, [root]);
      const added = nextChange(store, (c) => c.kind === 'added');
      await spire.start();
      await added;
    } finally {
      client.stop();
      store.close();
      await spire.stop();
    }
  });
});

describe('Delegated Identity client', () => {
  test('SVIDs of local pods by k8s selectors, empty subscriptions, bundles keyed by spiffe://td, rotation and restart', async () => {
    const sock = join(dir, 'admin.sock');
    const spire = new FakeSpire(sock);
    spire.entries.set('k8s:ns:payments,k8s:sa:payment-service', [{ id: idOf('payments', 'payment-service'), leaf: leaves['pay']!, intermediates: [int] }]);
    spire.bundles.set(TD, [root]);
    await spire.start();
    const store = new SvidStore();
    const client = new DelegatedIdentityClient(`unix://${sock}`, store, FAST);
    try {
      const added = nextChange(store, (c) => c.kind === 'added');
      client.subscribe('payments/payment-service', k8sSelectors('payments', 'payment-service'));
      client.subscribe('shop/checkout', k8sSelectors('shop', 'checkout'));
      client.start();
      assert.equal((await added).svid.spiffeId, idOf('payments', 'payment-service'));
      await until(() => store.bundles.get(TD)?.length === 1);
      await until(() => client.status().subscriptions['shop/checkout']?.connected === true);
      assert.equal(store.get(idOf('shop', 'checkout')), undefined, 'no entry yet: empty list, not an error');

      // An entry appears for checkout.
      const added2 = nextChange(store, (c) => c.kind === 'added');
      spire.entries.set('k8s:ns:shop,k8s:sa:checkout', [{ id: idOf('shop', 'checkout'), leaf: leaves['checkout']!, intermediates: [int] }]);
      spire.push();
      assert.equal((await added2).svid.spiffeId, idOf('shop', 'checkout'));

      // Rotation of payment-service.
      const rotated = nextChange(store, (c) => c.kind === 'rotated');
      spire.entries.set('k8s:ns:payments,k8s:sa:payment-service', [{ id: idOf('payments', 'payment-service'), leaf: leaves['pay2']!, intermediates: [int] }]);
      spire.push();
      assert.equal((await rotated).svid.serial, leaves['pay2']!.cert.serialNumber);

      // Restart: state kept, streams come back.
      await spire.stop();
      await until(() => !client.status().bundles.connected);
      assert.ok(store.get(idOf('payments', 'payment-service')));
      await spire.start();
      await until(() => client.status().bundles.connected && Object.values(client.status().subscriptions).every((s) => s.connected));

      // Unsubscribing (the pod left the node) withdraws its SVID.
      const removed = nextChange(store, (c) => c.kind === 'removed');
      client.unsubscribe('shop/checkout');
      assert.equal((await removed).svid.spiffeId, idOf('shop', 'checkout'));
    } finally {
      client.stop();
      store.close();
      await spire.stop();
    }
  });
});

describe('addresses and backoff', () => {
  test('endpoint addresses (Workload Endpoint rules)', async (t) => {
    const ok: [string, string][] = [
      ['unix:///run/spire/sockets/agent.sock', 'unix:///run/spire/sockets/agent.sock'],
      ['tcp://127.0.0.1:8000', '127.0.0.1:8000'],
    ];
    for (const [a, want] of ok) await t.test(a, () => assert.equal(grpcTarget(a), want));
    for (const bad of ['/run/x.sock', 'unix://host/x.sock', 'unix:relative', 'unix:///x.sock?q=1', 'tcp://localhost:8000', 'tcp://127.0.0.1', 'tcp://127.0.0.1:8000/foo', 'tcp://u@127.0.0.1:8000', 'http://127.0.0.1:80']) {
      await t.test(`rejects ${bad}`, () => assert.throws(() => grpcTarget(bad)));
    }
    assert.equal(workloadApiAddress('unix:///a.sock', { SPIFFE_ENDPOINT_SOCKET: 'unix:///b.sock' }), 'unix:///b.sock');
    assert.equal(workloadApiAddress('unix:///a.sock', {}), 'unix:///a.sock');
  });
  test('backoff: exponential from 1 s, ×2, ±20 % jitter, capped at 30 s', () => {
    const b = { initialMs: 1000, factor: 2, jitter: 0.2, maxMs: 30_000 };
    assert.equal(backoffDelay(b, 0, () => 0.5), 1000);
    assert.equal(backoffDelay(b, 0, () => 0), 800);
    assert.equal(backoffDelay(b, 3, () => 0.5), 8000);
    assert.equal(backoffDelay(b, 10, () => 0.999999), 36_000);
    assert.equal(backoffDelay(b, 10, () => 0), 24_000);
  });
});
