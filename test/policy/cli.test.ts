// `tendril policy trace|validate|get` through the real CLI entry point (bin/tendril.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = new URL('../../bin/tendril.js', import.meta.url).pathname;
const world = new URL('./fixtures/_world.yaml', import.meta.url).pathname;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'tendril-policy-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: GET, path: "/ok/.*"}]}
---
apiVersion: v1
kind: Service
metadata: {name: ignored}
`;
const pdir = join(dir, 'policies');
mkdirSync(pdir);
writeFileSync(join(pdir, 'p.yaml'), policy);
writeFileSync(
  join(dir, 'cases.yaml'),
  `- {id: get-ok, from: a/client-0, to: a/server-0, port: 80, protocol: TCP, http: {method: GET, path: /ok/1}, expect: allowed}
- {id: post-denied, from: a/client-0, to: a/server-0, port: 80, http: {method: POST, path: /ok/1}}
- {id: world, from: {ip: 8.8.8.8}, to: a/server-0, port: 80}
`,
);

test('trace -o json prints one contract line per case, in order', async () => {
  const r = await run(['policy', 'trace', '--policies', join(pdir, 'p.yaml'), '--world', world, '--cases', join(dir, 'cases.yaml'), '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.id), ['get-ok', 'post-denied', 'world']);
  assert.deepEqual(Object.keys(lines[0]), ['id', 'verdict', 'authRequired', 'l7', 'egress', 'ingress', 'reason']);
  assert.equal(lines[0].verdict, 'allowed');
  assert.equal(lines[0].l7, 'http');
  assert.equal(lines[0].ingress.policy, 'a/l7');
  assert.equal(lines[0].ingress.rule, 'ingress[0].toPorts[0].rules.http[0]');
  // Side keys: the contract's (verdict, policy, rule) first, in that order; `enforced` is added last.
  assert.deepEqual(Object.keys(lines[0].ingress), ['verdict', 'policy', 'rule', 'enforced']);
  assert.deepEqual(Object.keys(lines[2].egress), ['verdict', 'enforced']);
  assert.equal(lines[1].verdict, 'denied');
  assert.equal(lines[1].ingress.verdict, 'denied');
  assert.equal(lines[2].verdict, 'denied');
  assert.equal(lines[2].l7, null);
  assert.match(r.stderr, /kind Service, not a policy; ignored/);
});

test('trace without -o prints a table', async () => {
  const r = await run(['policy', 'trace', '--policies', pdir, '--world', world, '--cases', join(dir, 'cases.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ID\s+VERDICT/);
  assert.match(r.stdout, /post-denied\s+denied/);
});

test('trace exits 2 on an unknown endpoint and prints nothing on stdout', async () => {
  writeFileSync(join(dir, 'bad-cases.yaml'), '- {id: x, from: a/nobody, to: a/server-0, port: 80}\n');
  const r = await run(['policy', 'trace', '--policies', pdir, '--world', world, '--cases', join(dir, 'bad-cases.yaml'), '-o', 'json']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /TND_CASES_INVALID: .*bad-cases\.yaml case 1 \(x\): from: unknown endpoint "a\/nobody"/);
});

test('trace exits 2 on an invalid policy naming file, document, field and line', async () => {
  writeFileSync(join(dir, 'bad.yaml'), policy.replace('port: "80"', 'port: "80800"'));
  const r = await run(['policy', 'trace', '--policies', join(dir, 'bad.yaml'), '--world', world, '--cases', join(dir, 'cases.yaml'), '-o', 'json']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /bad\.yaml document 1 \(CiliumNetworkPolicy a\/l7\): spec\.ingress\[0\]\.toPorts\[0\]\.ports\[0\]\.port: must be 0-65535, got "80800" \(line 9, column \d+\)/);
});

test('trace reads directories recursively (*.yaml, *.yml only) and several --policies as one set', async () => {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'deep', 'deeper'), { recursive: true });
  // Ingress L7 rule in a nested .yml; egress default deny for the client in a second --policies file.
  writeFileSync(join(tree, 'deep', 'deeper', 'l7.yml'), policy);
  writeFileSync(join(tree, 'deep', 'notes.txt'), 'kind: [this is not read\n');
  writeFileSync(join(tree, 'deep', 'policy.json'), '{"kind": "CiliumNetworkPolicy"}');
  const egress = join(dir, 'egress.yaml');
  writeFileSync(
    egress,
    'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: eg, namespace: a}\nspec:\n  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: server}}]\n',
  );
  const r = await run(['policy', 'trace', '--policies', tree, '--policies', egress, '--world', world, '--cases', join(dir, 'cases.yaml'), '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].verdict, 'allowed');
  assert.equal(lines[0].egress.policy, 'a/eg');
  assert.equal(lines[0].ingress.policy, 'a/l7');
  assert.equal(lines[1].verdict, 'denied');
  assert.equal(lines[1].l7, 'http');
});

test('trace exits 2 on an L7 merge conflict, nothing on stdout', async () => {
  const kafka = policy.replace('name: l7', 'name: k').replace('{http: [{method: GET, path: "/ok/.*"}]}', '{kafka: [{topic: t}]}');
  writeFileSync(join(dir, 'conflict.yaml'), `${policy}---\n${kafka}`);
  const r = await run(['policy', 'trace', '--policies', join(dir, 'conflict.yaml'), '--world', world, '--cases', join(dir, 'cases.yaml'), '-o', 'json']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /TND_POLICY_CONFLICT: .*conflict\.yaml document 1 \(a\/l7\).*http and kafka rules on the same port of a\/server-0/);
});

test('validate: exit 0 with trap warnings, exit 2 on invalid input', async () => {
  writeFileSync(
    join(dir, 'traps.yaml'),
    `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: default-deny}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress: [{}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: egress, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: server}}
  egress:
  - toFQDNs: [{matchName: api.stripe.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`,
  );
  const ok = await run(['policy', 'validate', join(dir, 'traps.yaml'), join(pdir, 'p.yaml')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /\[kube-dns-default-deny\]/);
  assert.match(ok.stderr, /\[fqdn-without-dns-rule\]/);
  assert.match(ok.stdout, /valid: 3 policy document/);
  const bad = await run(['policy', 'validate', join(dir, 'bad.yaml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /TND_POLICY_INVALID_FIELD/);
});

test('get --endpoint prints the resolved policy; -o json is parseable', async () => {
  const t = await run(['policy', 'get', '--policies', join(pdir, 'p.yaml'), '--world', world, '--endpoint', 'a/server-0']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /endpoint a\/server-0\s+ingress: default deny\s+egress: not enforced/);
  assert.match(t.stdout, /ingress\s+allow\s+\{.*app In client.*\}\s+80\/TCP\s+http \(1 rule\)/);
  const j = await run(['policy', 'get', '--policies', join(pdir, 'p.yaml'), '--world', world, '-o', 'json']);
  assert.equal(j.code, 0, j.stderr);
  const views = JSON.parse(j.stdout);
  assert.equal(views.length, 6);
  const unknown = await run(['policy', 'get', '--policies', join(pdir, 'p.yaml'), '--world', world, '--endpoint', 'a/nope']);
  assert.equal(unknown.code, 2);
});
