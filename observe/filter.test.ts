import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, compileFilters } from './filter.js';
import { compileLabelSelector } from './labels.js';
import { newFlow } from './new-flow.js';

const syn = newFlow({
  verdict: 'DROPPED',
  drop_reason_desc: 'POLICY_DENY',
  node_name: 'kind-worker.cluster.local',
  IP: { source: '10.1.2.3', destination: 'fd00::1', ipVersion: 'IPv6' },
  l4: { TCP: { source_port: 5000, destination_port: 443, flags: { SYN: true, ECE: true } } },
  source: { namespace: 'a', pod_name: 'p', workloads: [{ name: 'web', kind: 'Deployment' }], labels: ['k8s:app=web', 'k8s:tier=front', 'reserved:host'] },
  is_reply: false,
  trace_context: { parent: { trace_id: 'abc123' } },
});
const http = newFlow({ verdict: 'FORWARDED', l7: { type: 'RESPONSE', http: { code: 404, method: 'GET', url: 'http://h/v1/items?q=1', protocol: 'HTTP/1.1' } } });

test('fields beyond the CLI flags: tcp_flags, ip_version, reply, workload, trace_id, node_name, drop_reason_desc, http_url', () => {
  const m = (f: Parameters<typeof compileFilter>[0], flow = syn) => compileFilter(f, 'f')(flow);
  assert.equal(m({ tcp_flags: [{ SYN: true }] }), true);
  assert.equal(m({ tcp_flags: [{ SYN: true, ACK: true }] }), false);
  assert.equal(m({ tcp_flags: [{ ACK: true }, { ECE: true }] }), true, 'OR across elements');
  assert.equal(m({ ip_version: ['IPv6'] }), true);
  assert.equal(m({ ip_version: ['IPv4'] }), false);
  assert.equal(m({ reply: [false] }), true);
  assert.equal(m({ reply: [true] }), false);
  assert.equal(m({ reply: [false] }, http), false, 'is_reply absent never matches reply');
  assert.equal(m({ source_workload: [{ name: 'web', kind: 'deployment' }] }), true);
  assert.equal(m({ source_workload: [{ name: 'api', kind: '' }] }), false);
  assert.equal(m({ trace_id: ['abc123'] }), true);
  assert.equal(m({ node_name: ['kind-*'] }), false, '* does not cross dots');
  assert.equal(m({ node_name: ['kind-*.cluster.local'] }), true);
  assert.equal(m({ node_name: ['prod/kind-worker.cluster.local'] }), true, 'cluster prefix');
  assert.equal(m({ drop_reason_desc: ['POLICY_DENY'] }), true);
  assert.equal(m({ http_url: ['items\\?q='] }, http), true);
  assert.equal(m({ http_path: ['^/v1/items$'] }, http), true, 'path excludes the query');
  assert.equal(m({ http_status_code: ['40+'] }, http), true);
  assert.equal(m({ http_status_code: ['404'] }, http), true);
  assert.equal(m({ http_status_code: ['41+'] }, http), false);
  assert.equal(m({ source_ip: ['10.1.0.0/16'] }), true);
  assert.equal(m({ source_ip: ['10.2.0.0/16'] }), false);
  assert.equal(m({ destination_ip: ['fd00::1'] }), true);
  assert.equal(m({ destination_ip: ['fd00::/16'] }), true);
  assert.equal(m({ destination_ip: ['fd01::/16'] }), false);
  assert.equal(m({ destination_ip: ['fd00:0:0:0::/64'] }), true);
  assert.equal(m({ source_ip: ['::/0'] }), false, 'an IPv6 CIDR never matches an IPv4 address');
  assert.equal(m({ source_ip: ['0.0.0.0/0'] }), true);
});

test('AND within a filter, OR across filters, blacklist subtracts', () => {
  assert.equal(compileFilter({ verdict: ['DROPPED'], source_pod: ['b/'] }, 'f')(syn), false);
  assert.equal(compileFilters([{ verdict: ['FORWARDED'] }, { source_pod: ['a/'] }])(syn), true);
  assert.equal(compileFilters([{ source_pod: ['a/'] }], [{ protocol: ['tcp'] }])(syn), false);
  assert.equal(compileFilters([], [{ protocol: ['http'] }])(syn), true);
});

test('label selectors: sources, set operators, negation', () => {
  const labels = ['k8s:app=web', 'k8s:tier=front', 'reserved:host', 'container:app=sidecar'];
  const sel = (s: string) => compileLabelSelector(s, 'x')(labels);
  assert.equal(sel('app=web'), true, 'any source');
  assert.equal(sel('k8s:app=web'), true);
  assert.equal(sel('container:app=web'), false);
  assert.equal(sel('any:app=sidecar'), true);
  assert.equal(sel('reserved:host'), true);
  assert.equal(sel('!reserved:world'), true);
  assert.equal(sel('k8s:app in (api, web),k8s:tier notin (back)'), true);
  assert.equal(sel('k8s:app!=web'), false);
  assert.equal(sel('k8s:app==web,tier=front'), true);
  assert.throws(() => compileLabelSelector('app = (x', 'whitelist[0].source_label[0]'), /whitelist\[0\]\.source_label\[0\]: cannot parse label selector/);
});

test('invalid values are rejected naming the field', () => {
  assert.throws(() => compileFilter({ source_ip: ['10.0.0.0/33'] }, 'whitelist[2]'), /whitelist\[2\]\.source_ip\[0\]: invalid IP or CIDR/);
  assert.throws(() => compileFilter({ source_ip: ['fd00::1::2/64'] }, 'w'), /w\.source_ip\[0\]: invalid IP or CIDR/);
  assert.throws(() => compileFilter({ destination_port: ['http'] }, 'w'), /w\.destination_port\[0\]: invalid port/);
  assert.throws(() => compileFilter({ protocol: ['quic'] }, 'w'), /w\.protocol\[0\]: unknown protocol "quic"/);
  assert.throws(() => compileFilter({ dns_query: ['('] }, 'w'), /w\.dns_query\[0\]: invalid regular expression/);
  assert.throws(() => compileFilter({ source_fqdn: ['a b'] }, 'w'), /w\.source_fqdn\[0\]: invalid pattern/);
});
