// `tendril connectivity test`: the expected paths of the example policies, probe manifests that
// validate against the Kubernetes OpenAPI schemas and carry the expected verdicts, and an honest
// refusal for standalone probing (not built).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { TENDRIL_BIN } from '../helpers/agent.js';

const EX = new URL('../../config/examples/', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [TENDRIL_BIN, 'connectivity', 'test', '--policies', `${EX}corrected`, '--world', `${EX}world.yaml`, ...args], { encoding: 'utf8' });

test('--plan -o json: the seed paths with their expected verdicts', () => {
  const r = run('--plan', '-o', 'json');
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { client: string; server: string; port: number; expect: string });
  const find = (c: string, s: string, p: number) => rows.find((x) => x.client === c && x.server === s && x.port === p)?.expect;
  assert.equal(find('checkout/checkout-service-0', 'payments/payment-service-0', 8080), 'allowed');
  assert.equal(find('payments/rogue-service-0', 'payments/payment-service-0', 8080), 'denied');
});

test('--manifests: probe Pods and headless Services that validate, one client per path with its expectation', async () => {
  const r = run('--manifests');
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, any>);
  const { Pod, Service } = await import('kubernetes-models/v1');
  for (const d of docs) (d.kind === 'Pod' ? new Pod(d as never) : new Service(d as never)).validate();
  const plan = run('--plan', '-o', 'json').stdout.trim().split('\n');
  const clients = docs.filter((d) => d.metadata.labels?.['tendril.io/probe'] === 'client');
  assert.equal(clients.length, plan.length);
  const checkout = clients.find((d) => d.metadata.annotations['tendril.io/path'] === 'checkout/checkout-service-0 -> payments/payment-service-0:8080')!;
  assert.equal(checkout.metadata.annotations['tendril.io/expect'], 'allowed');
  assert.equal(checkout.metadata.labels.app, 'checkout-service', 'the probe carries the client labels, so the same policies select it');
});

test('standalone probing is refused (not built), exit 2', () => {
  const r = run();
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not built/);
});
