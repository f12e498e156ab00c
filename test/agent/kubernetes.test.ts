// mode: kubernetes against an in-test API server (HTTPS, bearer token, paged lists, chunked
// watch streams, bookmarks, 410 Gone) driven through @kubernetes/client-node: the watched
// objects feed the same policy state standalone mode builds from world.yaml, and each Cilium
// policy's verdict is written back to its status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { loadConfig } from '../../config/index.js';
import { KubernetesSource, kubeConfigFor } from '../../agent/kubernetes/source.js';
import { FakeApiServer, makeTls, writeKubeconfig, type KObj } from '../helpers/kube-apiserver.js';

const HOST = '127.0.182.1';
const TOKEN = 'test-token-1234';
const silent = pino({ level: 'silent' });

const POD = '/api/v1/pods';
const CNP = '/apis/cilium.io/v2/ciliumnetworkpolicies';
const CCNP = '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies';

function pod(name: string, ip: string, labels: Record<string, string>, ports: { name: string; containerPort: number }[] = []): KObj {
  return {
    metadata: { name, namespace: 'shop', labels },
    spec: { nodeName: 'node-1', serviceAccountName: 'default', containers: [{ name: 'c', image: 'x', ports }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

function cnp(name: string, port: string): KObj {
  return {
    metadata: { name, namespace: 'shop' },
    spec: {
      endpointSelector: { matchLabels: { app: 'api' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port, protocol: 'TCP' }] }] }],
    },
  };
}

function seed(api: FakeApiServer): void {
  api.upsert('/api/v1/namespaces', { metadata: { name: 'shop', labels: { team: 'shop' } } });
  api.upsert('/api/v1/namespaces', { metadata: { name: 'default' } });
  api.upsert('/api/v1/serviceaccounts', { metadata: { name: 'default', namespace: 'shop' } });
  api.upsert(POD, pod('web-0', '10.42.0.10', { app: 'web' }));
  api.upsert(POD, pod('api-0', '10.42.0.20', { app: 'api' }, [{ name: 'http', containerPort: 8080 }]));
  api.upsert(POD, pod('other-0', '10.42.0.30', { app: 'other' }));
  api.upsert('/api/v1/services', { metadata: { name: 'api', namespace: 'shop', labels: { tier: 'backend' } }, spec: { selector: { app: 'api' }, clusterIP: '10.96.0.20', ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }] } });
  api.upsert('/api/v1/services', { metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, targetPort: 6443, protocol: 'TCP' }] } });
  api.upsert('/apis/discovery.k8s.io/v1/endpointslices', { metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ port: 6443 }] });
  api.upsert('/api/v1/nodes', { metadata: { name: 'node-1', labels: { zone: 'a' } }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.11' }] } });
  api.upsert('/api/v1/nodes', { metadata: { name: 'node-2', labels: { zone: 'b' } }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.12' }] } });
  api.upsert(CNP, cnp('api-http', 'http'));
  api.upsert(CNP, cnp('broken', '80800'));
  api.upsert(CCNP, { metadata: { name: 'from-zone-b' }, spec: { endpointSelector: { matchLabels: { app: 'other' } }, ingress: [{ fromNodes: [{ matchLabels: { zone: 'b' } }] }] } });
  api.upsert('/apis/networking.k8s.io/v1/networkpolicies', { metadata: { name: 'np', namespace: 'shop' }, spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'], ingress: [] } });
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('kubernetes source: list/watch through @kubernetes/client-node feeds the policy state and writes policy status', async (t) => {
  const tls = makeTls(HOST);
  t.after(() => tls.cleanup());
  const api = new FakeApiServer(tls, TOKEN);
  seed(api);
  await api.start(HOST);
  t.after(() => api.stop());
  const dir = mkdtempSync(join(tmpdir(), 'tendril-k8s-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = writeKubeconfig(dir, api.url, tls.caFile, TOKEN);
  const config = loadConfig({ sets: ['mode=kubernetes', `kubernetes.kubeconfig=${kubeconfig}`, 'nodeName=node-1'] });
  const source = new KubernetesSource(kubeConfigFor(config, {}), config, silent, { pageSize: 2, debounceMs: 10, backoffMinMs: 20 });
  t.after(() => source.stop());
  const state = await source.start();
  const verdict = (from: string, to: string, port: number) => state.engine.connection({ from: { endpoint: from }, to: { endpoint: to }, port, protocol: 'TCP' }).verdict;

  await t.test('initial paged list: the world and the valid policies are in force', () => {
    assert.ok(api.requests.some((r) => /[?&]continue=/.test(r.url)), 'lists were paged with limit/continue');
    assert.ok(api.requests.every((r) => r.auth === `Bearer ${TOKEN}`), 'every request carried the token');
    assert.equal(state.world.endpoints.length, 3);
    assert.equal(verdict('shop/web-0', 'shop/api-0', 8080).allowed, true, 'named port http -> 8080 from the pod containerPorts');
    assert.equal(verdict('shop/other-0', 'shop/api-0', 8080).allowed, false);
    assert.deepEqual(state.world.entities.host, ['10.0.0.11'], 'the local node is host');
    assert.deepEqual(state.world.entities['kube-apiserver'], ['10.0.0.1'], 'from the default/kubernetes EndpointSlice');
    const fromB = state.engine.connection({ from: { ip: '10.0.0.12' }, to: { endpoint: 'shop/other-0' }, port: 1, protocol: 'TCP' }).verdict;
    assert.equal(fromB.allowed, true, 'fromNodes zone=b selects node-2 by its Node labels');
    assert.equal(state.world.services.get('shop/api')?.clusterIP, '10.96.0.20');
  });

  await t.test('policy status is written back: ok, or the error naming the field', async () => {
    const ok = await until('status of api-http', () => (api.get(CNP, 'shop', 'api-http') as any)?.status?.nodes?.['node-1']);
    assert.equal(ok.ok, true);
    assert.equal(ok.enforcing, true);
    const bad = await until('status of broken', () => (api.get(CNP, 'shop', 'broken') as any)?.status?.nodes?.['node-1']);
    assert.equal(bad.ok, false);
    assert.match(bad.error, /spec\.ingress\[0\]\.toPorts\[0\]\.ports\[0\]\.port/);
    const cw = await until('status of the CCNP', () => (api.get(CCNP, undefined, 'from-zone-b') as any)?.status?.nodes?.['node-1']);
    assert.equal(cw.ok, true);
    assert.ok(api.patches.every((p) => p.contentType === 'application/merge-patch+json'));
    assert.ok((source.status().invalidPolicies as unknown[]).length === 1);
  });

  await t.test('watch events (chunked stream) update the state', async () => {
    api.upsert(POD, pod('web-1', '10.42.0.11', { app: 'web' }));
    await until('web-1 in the world', () => state.world.byId.has('shop/web-1'));
    assert.equal(verdict('shop/web-1', 'shop/api-0', 8080).allowed, true);
    api.upsert(CNP, cnp('api-http', '9999'));
    await until('the policy change', () => !verdict('shop/web-0', 'shop/api-0', 8080).allowed);
    assert.equal(verdict('shop/web-0', 'shop/api-0', 9999).allowed, true);
    api.remove(CNP, 'shop', 'broken');
    await until('the invalid policy gone from status', () => (source.status().invalidPolicies as unknown[]).length === 0);
  });

  await t.test('bookmarks move the resourceVersion', async () => {
    await until('open watches', () => api.openWatches === 9);
    const rv = String(api.bookmark());
    await until('bookmark applied', () => source.reflectors.every((r) => r.stats.resourceVersion === rv));
  });

  await t.test('410 Gone after compaction: relist, and changes made meanwhile are seen', async () => {
    api.compact();
    api.upsert(CNP, cnp('api-9090', '9090'));
    await until('relist after 410', () => source.reflectors.find((r) => r.stats.kind === 'CiliumNetworkPolicy')!.stats.relistsAfterGone >= 1);
    await until('the new policy', () => verdict('shop/web-0', 'shop/api-0', 9090).allowed);
    assert.equal(verdict('shop/web-0', 'shop/api-0', 8080).allowed, false);
  });
});

test('kubernetes source: in-cluster service-account token and CA; a wrong token never syncs', async (t) => {
  const tls = makeTls(HOST);
  t.after(() => tls.cleanup());
  const api = new FakeApiServer(tls, TOKEN);
  seed(api);
  await api.start(HOST);
  t.after(() => api.stop());
  const port = Number(new URL(api.url).port);
  const sa = mkdtempSync(join(tmpdir(), 'tendril-sa-'));
  t.after(() => rmSync(sa, { recursive: true, force: true }));
  copyFileSync(tls.caFile, join(sa, 'ca.crt'));
  writeFileSync(join(sa, 'token'), TOKEN);
  const config = loadConfig({ sets: ['mode=kubernetes', `kubernetes.serviceAccountDir=${sa}`, `k8sServiceHost=${HOST}`, `k8sServicePort=${port}`, 'nodeName=node-1'] });

  await t.test('in-cluster config syncs', async () => {
    const source = new KubernetesSource(kubeConfigFor(config, {}), config, silent, { debounceMs: 10 });
    try {
      const state = await source.start();
      assert.equal(state.world.endpoints.length, 3);
    } finally {
      source.stop();
    }
  });

  await t.test('a wrong token: 401, the start fails naming the resources', async () => {
    writeFileSync(join(sa, 'token'), 'wrong');
    const source = new KubernetesSource(kubeConfigFor(config, {}), config, silent, { syncTimeoutMs: 1500, backoffMinMs: 50 });
    try {
      await assert.rejects(source.start(), (err: Error) => /initial list did not complete/.test(err.message) && /Pod/.test(err.message) && /401/.test(err.message));
    } finally {
      source.stop();
    }
  });

  await t.test('no kubeconfig and no token: a config error naming the key', () => {
    const none = loadConfig({ sets: ['mode=kubernetes', `kubernetes.serviceAccountDir=${join(sa, 'missing')}`] });
    assert.throws(() => kubeConfigFor(none, {}), /kubernetes\.kubeconfig/);
  });
});

test('tendril agent in mode kubernetes: ready after the initial sync, status shows the watches, a CNP change is enforced by its proxy', async (t) => {
  const { spawnAgent, waitReady } = await import('../helpers/agent.js');
  const { freePort, startHttpServer } = await import('../helpers/servers.js');
  const { request } = await import('undici');
  const http = await import('node:http');
  const tls = makeTls(HOST);
  t.after(() => tls.cleanup());
  const api = new FakeApiServer(tls, TOKEN);
  seed(api);
  // The pods live on this machine's loopback so the agent's proxy can reach and attribute them.
  api.upsert(POD, pod('web-0', '127.0.182.10', { app: 'web' }));
  api.upsert(POD, pod('api-0', '127.0.182.20', { app: 'api' }, [{ name: 'http', containerPort: 8080 }]));
  api.upsert(CNP, {
    metadata: { name: 'api-http', namespace: 'shop' },
    spec: { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: 'http', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/a' }] } }] }] },
  });
  await api.start(HOST);
  t.after(() => api.stop());
  const dir = mkdtempSync(join(tmpdir(), 'tendril-k8s-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = writeKubeconfig(dir, api.url, tls.caFile, TOKEN);
  const upstream = await startHttpServer((req, res) => res.end(`ok ${req.url}`), '127.0.182.20', 0);
  t.after(() => upstream.close());
  const [healthPort, proxyPort] = await Promise.all([freePort(), freePort()]);
  const health = `127.0.0.1:${healthPort}`;
  const agent = spawnAgent(t, [
    'mode=kubernetes',
    `kubernetes.kubeconfig=${kubeconfig}`,
    'nodeName=node-1',
    `health.listenAddress=${health}`,
    'hubble.enabled=false',
    'hubble.store.enabled=false',
    `hubble.listenAddress=127.0.0.1:${await freePort()}`,
    `hubble.metrics.listenAddress=127.0.0.1:${await freePort()}`,
    'datapath.enabled=false',
    `standalone.redirects=[{listen: "127.0.0.1:${proxyPort}", destination: "shop/api-0:8080", upstream: "127.0.182.20:${upstream.port}"}]`,
  ]);
  await waitReady(agent, health);
  const status = (await (await request(`http://${health}/status`)).body.json()) as Record<string, any>;
  assert.equal(status.mode, 'kubernetes');
  assert.equal(status.kubernetes.resources.length, 9);
  assert.ok(status.kubernetes.resources.every((r: { synced: boolean }) => r.synced));
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => keepAlive.destroy());
  const get = (path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxyPort, path, agent: keepAlive, localAddress: '127.0.182.10', headers: { host: 'api' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
  assert.equal(await get('/a'), 200);
  assert.equal(await get('/b'), 403);
  await until('the status write of api-http', () => api.patches.some((p) => p.path.endsWith('/api-http/status')));
  await new Promise((r) => setTimeout(r, 300)); // the status MODIFIED event is applied (no new revision: same generation)
  const before = ((await (await request(`http://${health}/status`)).body.json()) as Record<string, any>).policy.changes.revision as number;
  api.upsert(CNP, {
    metadata: { name: 'api-http', namespace: 'shop' },
    spec: { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: 'http', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/b' }] } }] }] },
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = (await (await request(`http://${health}/status`)).body.json()) as Record<string, any>;
    if (s.policy.changes.revision > before) break;
    if (Date.now() > deadline) assert.fail(`no new revision\n${agent.logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await get('/b'), 200, 'the CNP change judges the next request on the open connection');
  assert.equal(await get('/a'), 403);
});
