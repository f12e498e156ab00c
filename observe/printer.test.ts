import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCompact, formatJson, tableRow, alignTable, TABLE_HEADER } from './printer.js';
import { specExamples, paymentsFlows } from '../test/observe/fixtures.js';

test('compact lines equal the verified hubble v0.12 output of hubble-compat §3.2', () => {
  for (const { flow, line } of specExamples()) assert.equal(formatCompact(flow, { utc: true }), line);
});

test('compact lines for the payments HTTP request, response and L7 denial', () => {
  const lines = paymentsFlows().map((f) => formatCompact(f, { utc: true }));
  assert.deepEqual(lines, [
    'May  1 12:01:00.000: payments/checkout-service:40100 (ID:61000) -> payments/payment-service:8080 (ID:62000) http-request FORWARDED (HTTP/1.1 GET http://payment-service/api/v1/payments/P123)',
    'May  1 12:01:00.023: payments/checkout-service:40100 (ID:61000) <- payments/payment-service:8080 (ID:62000) http-response FORWARDED (HTTP/1.1 200 23ms (GET http://payment-service/api/v1/payments/P123))',
    'May  1 12:01:01.000: payments/checkout-service:40101 (ID:61000) -> payments/payment-service:8080 (ID:62000) http-request DROPPED (HTTP/1.1 DELETE http://payment-service/api/v1/payments)',
  ]);
});

test('--print-node-name puts the node in brackets before the colon; auth type is appended', () => {
  const f = { ...specExamples()[0]!.flow, auth_type: 'SPIRE' as const };
  assert.match(formatCompact(f, { utc: true, printNodeName: true }), /^May {2}1 12:00:00\.123 \[node-1\]: default\/xwing.*\(TCP Flags: SYN; Auth: SPIRE\)$/);
});

test('a flow without time prints N/A; without IP prints empty sides', () => {
  const f = { ...specExamples()[0]!.flow, time: '', IP: undefined };
  assert.equal(formatCompact(f, { utc: true }), 'N/A:  (ID:12345) ->  (ID:23456) to-endpoint FORWARDED (TCP Flags: SYN)');
});

test('json lines are GetFlowsResponse objects with proto field names', () => {
  const f = paymentsFlows()[2]!;
  const o = JSON.parse(formatJson(f));
  assert.equal(o.node_name, 'node-1');
  assert.equal(o.flow.verdict, 'DROPPED');
  assert.equal(o.flow.drop_reason_desc, 'POLICY_DENIED');
  assert.equal(o.flow.Type, 'L7');
  assert.deepEqual(o.flow.l4, { TCP: { source_port: 40101, destination_port: 8080 } });
  assert.equal(o.flow.l7.http.method, 'DELETE');
  assert.equal(o.flow.event_type.type, 129);
  assert.equal(o.flow.ingress_denied_by[0].name, 'payment-l7');
});

test('table rows align columns with three spaces of padding', () => {
  const rows = [TABLE_HEADER, ...paymentsFlows().map((f) => tableRow(f, { utc: true }))];
  const lines = alignTable(rows).split('\n');
  assert.equal(lines.length, 4);
  const col = lines[0]!.indexOf('SOURCE');
  assert.equal(lines[1]!.indexOf('payments/checkout-service:40100'), col);
  assert.match(lines[3]!, /http-request {4}DROPPED {5}HTTP\/1\.1 DELETE/);
});
