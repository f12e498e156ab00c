/**
 * The store keeps each flow's JSON. For the proxy's flows the writer thread rebuilds the flow from
 * its HttpFlowRecord and serializes it with cached shared parts (observe/store/http-json.ts);
 * other flows arrive as JSON. Either way the stored text must be exactly `JSON.stringify` of the
 * flow the producer emitted (docs/observe.md, "Flow store"). One subtest per flow kind; each kind
 * sits after a plain request in its batch, so it goes through the writer's fast path (only the
 * first flow of a batch is checked against JSON.stringify at run time) and through the
 * serializer directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import {
  buildHttpFlow,
  newFlow,
  nowFlowTime,
  outcomeFromVerdict,
  type Flow,
  type HttpFlowConn,
  type HttpFlowRecord,
} from '../../observe/index.js';
import { StoreSink } from '../../observe/consumers/index.js';
import { HttpFlowJson } from '../../observe/store/http-json.js';
import type { Verdict } from '../../policy/api.js';

const conn = (): HttpFlowConn => ({
  srcIp: '127.0.190.10',
  srcPort: 40100,
  dstIp: '127.0.190.20',
  dstPort: 8080,
  source: { ID: 11, identity: 61000, namespace: 'shop', pod_name: 'checkout-7d9', labels: ['k8s:app=checkout', 'k8s:io.kubernetes.pod.namespace=shop'] },
  destination: { ID: 12, identity: 62000, namespace: 'payments', pod_name: 'payment-service', labels: ['k8s:app=payment-service'], workloads: [{ name: 'payment-service', kind: 'Deployment' }] },
  nodeName: '',
  proxyPort: 15001,
  direction: 'INGRESS',
});

const allowed: Verdict = {
  allowed: true,
  authRequired: false,
  l7: 'http',
  ingress: { verdict: 'allowed', policy: 'payments/allow-checkout', rule: 'ingress[0].toPorts[0].rules.http[0]', enforced: true },
  policy: 'payments/allow-checkout',
  rule: 'ingress[0].toPorts[0].rules.http[0]',
  reason: 'allowed by payments/allow-checkout ingress[0].toPorts[0].rules.http[0]',
};
const denied: Verdict = {
  allowed: false,
  authRequired: false,
  l7: 'http',
  ingress: { verdict: 'denied', policy: 'payments/allow-checkout', rule: 'ingress[0].toPorts[0].rules.http', enforced: true },
  policy: 'payments/allow-checkout',
  rule: 'ingress[0].toPorts[0].rules.http',
  reason: 'DELETE /api/v1/payments matches no http rule of payments/allow-checkout',
};

let seq = 0;
function rec(c: HttpFlowConn, kind: 0 | 1 | 2, method: string, path: string, extra: Partial<HttpFlowRecord> = {}): HttpFlowRecord {
  seq++;
  return {
    conn: c,
    kind,
    time: nowFlowTime(),
    uuid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    method,
    url: `http://payment-service${path}`,
    protocol: 'HTTP/1.1',
    outcome: null,
    code: 0,
    latencyNs: 0,
    verdict: 'FORWARDED',
    reason: '',
    authFailed: false,
    ...extra,
  };
}

/** One batch per kind: [plain request, ...the kind's flows]. Records null = a generic flow. */
function kinds(): Record<string, { rec: HttpFlowRecord | null; flow: Flow }[]> {
  const c = conn();
  const http = (r: HttpFlowRecord): { rec: HttpFlowRecord; flow: Flow } => ({ rec: r, flow: buildHttpFlow(r) });
  return {
    request: [http(rec(c, 0, 'GET', '/api/v1/payments/P1', { outcome: outcomeFromVerdict(allowed) }))],
    response: [
      http(rec(c, 2, 'GET', '/api/v1/payments/P1', { code: 200, latencyNs: 23_000_000 })),
      http(rec(c, 2, 'POST', '/api/v1/payments', { code: 502, latencyNs: 1_500_000, verdict: 'ERROR', reason: 'upstream 127.0.190.20:8080: connect ECONNREFUSED' })),
    ],
    denial: [
      http(rec(c, 0, 'DELETE', '/api/v1/payments', { outcome: outcomeFromVerdict(denied) })),
      http(rec(c, 2, 'DELETE', '/api/v1/payments', { code: 403, latencyNs: 40_000, verdict: 'DROPPED', reason: denied.reason })),
    ],
    'authentication denial': [
      http(rec(c, 2, 'GET', '/api/v1/payments/P1', { code: 403, latencyNs: 40_000, verdict: 'DROPPED', reason: 'authentication required', authFailed: true })),
    ],
    malformed: [http(rec(c, 1, 'GET', '/a\u00e9"\\b', { code: 400, reason: 'invalid header name "x y"' }))],
    'L4 drop': [
      {
        rec: null,
        flow: newFlow({
          time: nowFlowTime(),
          verdict: 'DROPPED',
          drop_reason_desc: 'POLICY_DENIED',
          event_type: { type: 1, sub_type: 133 },
          IP: { source: '127.0.190.30', destination: '127.0.190.20', ipVersion: 'IPv4' },
          l4: { TCP: { source_port: 51000, destination_port: 5432 } },
          source: { identity: 2, labels: ['reserved:world'] },
          destination: { identity: 62000, namespace: 'payments', pod_name: 'payment-service' },
          traffic_direction: 'INGRESS',
          ingress_denied_by: [{ name: 'default-deny' }],
          node_name: '',
        }),
      },
    ],
  };
}

test('stored flow JSON is byte for byte JSON.stringify of the emitted flow', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-store-json-'));
  const path = join(dir, 'flows.db');
  const sink = new StoreSink({ path, retentionMs: 86_400_000 }, pino({ level: 'silent' }));
  await sink.start();
  t.after(async () => {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const expected = new Map<string, { kind: string; json: string; fast: string | null }>();
  const all = kinds();
  for (const [kind, flows] of Object.entries(all)) {
    const lead = rec(conn(), 0, 'GET', '/lead', { outcome: outcomeFromVerdict(allowed) });
    const leadFlow = buildHttpFlow(lead);
    leadFlow.node_name = 'node-a';
    sink.emitHttp(leadFlow, lead);
    const serializer = new HttpFlowJson();
    for (const { rec: r, flow } of flows) {
      // What createObservability does: stamp this node's name on flows emitted without one.
      flow.node_name = 'node-a';
      if (r) sink.emitHttp(flow, r);
      else sink.emit(flow);
      const json = JSON.stringify(flow);
      expected.set(flow.uuid, { kind, json, fast: r ? serializer.stringify(flow, r) : null });
    }
    await sink.flush(); // one writer batch per kind
  }
  const db = new Database(path, { readonly: true });
  const stored = new Map<string, string>();
  for (const { flow } of db.prepare('SELECT flow FROM flows').all() as { flow: string }[]) {
    stored.set((JSON.parse(flow) as Flow).uuid, flow);
  }
  db.close();
  for (const kind of Object.keys(all)) {
    await t.test(kind, () => {
      const mine = [...expected].filter(([, e]) => e.kind === kind);
      assert.ok(mine.length > 0);
      for (const [uuid, e] of mine) {
        assert.equal(stored.get(uuid), e.json, `stored JSON of ${kind} flow ${uuid}`);
        if (e.fast !== null) assert.equal(e.fast, e.json, `serializer output of ${kind} flow ${uuid}`);
      }
    });
  }
});
