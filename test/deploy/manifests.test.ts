// The deployment manifests: every document validates against the Kubernetes OpenAPI schemas
// (the kubernetes-models package, generated from the Kubernetes OpenAPI spec), the DaemonSet names
// its capabilities instead of running privileged, RBAC grants the least verbs, and the agent
// config the ConfigMap carries is accepted by `tendril agent --check-config`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { parseAllDocuments, parse } from 'yaml';
import { TENDRIL_BIN } from '../helpers/agent.js';

const root = new URL('../../deploy/', import.meta.url);
const read = (p: string): Record<string, any>[] =>
  parseAllDocuments(readFileSync(new URL(p, root), 'utf8')).map((d) => d.toJS() as Record<string, any>).filter(Boolean);

const MODELS: Record<string, [string, string]> = {
  'v1/ServiceAccount': ['kubernetes-models/v1', 'ServiceAccount'],
  'v1/ConfigMap': ['kubernetes-models/v1', 'ConfigMap'],
  'apps/v1/DaemonSet': ['kubernetes-models/apps/v1', 'DaemonSet'],
  'rbac.authorization.k8s.io/v1/ClusterRole': ['kubernetes-models/rbac.authorization.k8s.io/v1', 'ClusterRole'],
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ['kubernetes-models/rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
  'apiextensions.k8s.io/v1/CustomResourceDefinition': ['kubernetes-models/apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
};

const docs = [...read('daemonset.yaml').map((d) => ['daemonset.yaml', d] as const), ...read('kubernetes/crds.yaml').map((d) => ['kubernetes/crds.yaml', d] as const)];

for (const [file, doc] of docs) {
  test(`${file}: ${doc.kind} ${doc.metadata?.name} validates against the Kubernetes OpenAPI schema`, async () => {
    const entry = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert.ok(entry, `no schema for ${doc.apiVersion}/${doc.kind}`);
    const mod = (await import(entry[0])) as Record<string, new (d: unknown) => { validate(): void }>;
    new mod[entry[1]]!(doc).validate();
  });
}

test('the schema check can fail (a wrong field type is rejected)', async () => {
  const ds = structuredClone(docs.find(([, d]) => d.kind === 'DaemonSet')![1]);
  ds.spec.template.spec.containers[0].securityContext.capabilities.add = [7];
  const { DaemonSet } = await import('kubernetes-models/apps/v1');
  assert.throws(() => new DaemonSet(ds as never).validate(), /capabilities\/add\/0 must be string/);
});

test('DaemonSet: not privileged, capabilities named, probes, SPIRE socket and bpffs mounted', () => {
  const ds = docs.find(([, d]) => d.kind === 'DaemonSet')![1];
  const c = ds.spec.template.spec.containers[0];
  assert.equal(c.securityContext.privileged, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.deepEqual([...c.securityContext.capabilities.add].sort(), ['BPF', 'NET_ADMIN', 'NET_RAW', 'PERFMON', 'SYS_ADMIN', 'SYS_RESOURCE']);
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  const mounts = Object.fromEntries(c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
  assert.equal(mounts['spire-agent-socket'], '/run/spire/sockets');
  assert.equal(mounts.bpffs, '/sys/fs/bpf');
});

test('ClusterRole: list/watch on what the agent watches, patch only on policy status, nothing else', () => {
  const role = docs.find(([, d]) => d.kind === 'ClusterRole')![1];
  const grants = new Map<string, string[]>();
  for (const r of role.rules) for (const g of r.apiGroups) for (const res of r.resources) grants.set(`${g}/${res}`, r.verbs);
  const watched = ['/pods', '/namespaces', '/services', '/nodes', '/serviceaccounts', 'discovery.k8s.io/endpointslices', 'networking.k8s.io/networkpolicies', 'cilium.io/ciliumnetworkpolicies', 'cilium.io/ciliumclusterwidenetworkpolicies'];
  for (const w of watched) assert.deepEqual(grants.get(w), ['list', 'watch'], w);
  assert.deepEqual(grants.get('cilium.io/ciliumnetworkpolicies/status'), ['patch']);
  assert.deepEqual(grants.get('cilium.io/ciliumclusterwidenetworkpolicies/status'), ['patch']);
  assert.equal(grants.size, watched.length + 2, 'no other resources');
});

test('the ConfigMap config is accepted by tendril agent --check-config', (t) => {
  const cm = docs.find(([, d]) => d.kind === 'ConfigMap')![1];
  const dir = mkdtempSync(join(tmpdir(), 'tendril-deploy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tendril.yaml');
  writeFileSync(file, cm.data['tendril.yaml']);
  const r = spawnSync(process.execPath, [TENDRIL_BIN, 'agent', '--check-config', '--config', file], { encoding: 'utf8', env: { ...process.env, TENDRIL__NODENAME: 'node-1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /configuration is valid/);
  assert.equal(parse(cm.data['tendril.yaml']).mode, 'kubernetes');
});

test('Helm values follow the seed keys', () => {
  const values = parse(readFileSync(new URL('helm/tendril/values.yaml', root), 'utf8')) as Record<string, any>;
  for (const k of ['kubeProxyReplacement', 'k8sServiceHost', 'k8sServicePort']) assert.ok(k in values, k);
  for (const k of ['enabled', 'relay', 'ui', 'metrics']) assert.ok(k in values.hubble, `hubble.${k}`);
  for (const k of ['enabled', 'type']) assert.ok(k in values.encryption, `encryption.${k}`);
  assert.deepEqual(readFileSync(new URL('helm/tendril/crds/cilium-policies.yaml', root), 'utf8'), readFileSync(new URL('kubernetes/crds.yaml', root), 'utf8'), 'the chart ships the same CRDs');
});
