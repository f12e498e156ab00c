/**
 * Hubble metrics scraped over HTTP from the metrics listener and checked by name, labels and value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import pino from 'pino';
import { newFlow } from '../../observe/index.js';
import { FlowRing } from '../../observe/consumers/index.js';
import { FlowMetrics } from '../../observe/metrics/flow-metrics.js';
import { MetricsServer } from '../../observe/metrics/server.js';
import { parseMetricList } from '../../observe/metrics/options.js';
import { specExamples, paymentsFlows, XWING, WORLD } from './fixtures.js';

const log = pino({ level: 'silent' });
const SEED = ['dns:query;ignoreAAAA', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http'];

/** Parses the text exposition into `name{sorted labels}` -> value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels = m[2] ? [...m[2].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => `${x[1]}=${x[2]}`).sort().join(',') : '';
    out.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return out;
}

async function scrape(t: { after: (fn: () => Promise<void>) => void }, enabled: string[], feed: (m: FlowMetrics, ring: FlowRing) => void) {
  const ring = new FlowRing(16);
  const metrics = new FlowMetrics(enabled, ring);
  const server = new MetricsServer(metrics, '127.0.0.1:0', log);
  const address = await server.start();
  t.after(() => server.stop());
  feed(metrics, ring);
  const res = await request(`http://${address}/metrics`);
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/plain/);
  return parse(await res.body.text());
}

test('the seed metric list over the spec flows gives Hubble names and labels', async (t) => {
  const series = await scrape(t, SEED, (m) => {
    for (const { flow } of specExamples()) m.emit(flow);
    for (const f of paymentsFlows()) m.emit(f);
  });
  const want: Record<string, number> = {
    'hubble_drop_total{protocol=TCP,reason=POLICY_DENIED}': 1,
    'hubble_drop_total{protocol=HTTP,reason=POLICY_DENIED}': 1,
    'hubble_tcp_flags_total{family=IPv4,flag=SYN}': 3,
    'hubble_tcp_flags_total{family=IPv4,flag=SYN-ACK}': 1,
    'hubble_flows_processed_total{protocol=TCP,subtype=to-endpoint,type=Trace,verdict=FORWARDED}': 1,
    'hubble_flows_processed_total{protocol=TCP,subtype=,type=Drop,verdict=DROPPED}': 1,
    'hubble_flows_processed_total{protocol=TCP,subtype=,type=PolicyVerdict,verdict=FORWARDED}': 1,
    'hubble_flows_processed_total{protocol=HTTP,subtype=HTTP,type=L7,verdict=FORWARDED}': 4,
    'hubble_flows_processed_total{protocol=HTTP,subtype=HTTP,type=L7,verdict=DROPPED}': 1,
    'hubble_flows_processed_total{protocol=DNS,subtype=DNS,type=L7,verdict=FORWARDED}': 3,
    'hubble_flows_processed_total{protocol=Kafka,subtype=Kafka,type=L7,verdict=FORWARDED}': 1,
    'hubble_flows_processed_total{protocol=ICMPv4,subtype=to-host,type=Trace,verdict=FORWARDED}': 1,
    'hubble_port_distribution_total{port=80,protocol=TCP}': 2,
    'hubble_port_distribution_total{port=53,protocol=UDP}': 2,
    'hubble_port_distribution_total{port=8080,protocol=TCP}': 1,
    'hubble_icmp_total{family=IPv4,type=EchoRequest}': 1,
    'hubble_http_requests_total{method=POST,protocol=HTTP/1.1,reporter=server}': 1,
    'hubble_http_requests_total{method=GET,protocol=HTTP/1.1,reporter=server}': 1,
    'hubble_http_requests_total{method=DELETE,protocol=HTTP/1.1,reporter=server}': 1,
    'hubble_http_responses_total{method=GET,protocol=HTTP/1.1,reporter=server,status=200}': 1,
    'hubble_http_request_duration_seconds_bucket{le=0.025,method=GET,reporter=server}': 1,
    'hubble_http_request_duration_seconds_bucket{le=0.01,method=GET,reporter=server}': 0,
    'hubble_http_request_duration_seconds_count{method=POST,reporter=server}': 1,
    'hubble_dns_queries_total{ips_returned=0,qtypes=A,query=api.github.com.,rcode=}': 1,
    'hubble_dns_responses_total{ips_returned=1,qtypes=A,query=api.github.com.,rcode=No Error}': 1,
    'hubble_dns_response_types_total{qtypes=A,query=api.github.com.,type=A}': 1,
    'hubble_lost_events_total{source=HUBBLE_RING_BUFFER}': 0,
  };
  for (const [k, v] of Object.entries(want)) assert.equal(series.get(k), v, k);
  // ignoreAAAA: the NXDOMAIN AAAA answer is not counted.
  assert.ok(![...series.keys()].some((k) => k.includes('qtypes=AAAA')), 'AAAA flows are ignored');
});

test('sourceContext/destinationContext add source and destination labels (first non-empty wins)', async (t) => {
  const series = await scrape(t, ['flow:sourceContext=workload-name|pod;destinationContext=dns|ip', 'drop:sourceContext=namespace;labelsContext=source_namespace,traffic_direction'], (m) => {
    m.emit(newFlow({ verdict: 'FORWARDED', IP: { source: '10.0.1.10', destination: '140.82.112.6', ipVersion: 'IPv4' }, l4: { TCP: { source_port: 1, destination_port: 443, flags: { SYN: true } } }, source: XWING, destination: WORLD, destination_names: ['api.github.com'], event_type: { type: 4, sub_type: 11 } }));
    m.emit(newFlow({ verdict: 'FORWARDED', IP: { source: '10.0.1.10', destination: '1.2.3.4', ipVersion: 'IPv4' }, l4: { UDP: { source_port: 1, destination_port: 53 } }, source: { ...XWING, workloads: [{ name: 'xwing-deploy', kind: 'Deployment' }] }, destination: WORLD, event_type: { type: 4, sub_type: 11 } }));
    m.emit(newFlow({ verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED', traffic_direction: 'EGRESS', l4: { TCP: { source_port: 1, destination_port: 2 } }, source: XWING, destination: WORLD }));
  });
  assert.equal(series.get('hubble_flows_processed_total{destination=api.github.com,protocol=TCP,source=default/xwing,subtype=to-network,type=Trace,verdict=FORWARDED}'), 1);
  assert.equal(series.get('hubble_flows_processed_total{destination=1.2.3.4,protocol=UDP,source=xwing-deploy,subtype=to-network,type=Trace,verdict=FORWARDED}'), 1);
  assert.equal(series.get('hubble_drop_total{protocol=TCP,reason=POLICY_DENIED,source=default,source_namespace=default,traffic_direction=egress}'), 1);
});

test('lost events from the ring and from producers are exported by source', async (t) => {
  const series = await scrape(t, ['flow'], (_m, ring) => {
    ring.reportLost('PERF_EVENT_RING_BUFFER', 7);
    for (let i = 0; i < 20; i++) ring.emit(newFlow({ verdict: 'FORWARDED' }));
    ring.read(0); // a reader lapped by 4
  });
  assert.equal(series.get('hubble_lost_events_total{source=PERF_EVENT_RING_BUFFER}'), 7);
  assert.equal(series.get('hubble_lost_events_total{source=HUBBLE_RING_BUFFER}'), 4);
});

test('httpV2, kafka, policy and flows-to-world plugins', async (t) => {
  const series = await scrape(t, ['httpV2:sourceContext=pod', 'kafka', 'policy', 'flows-to-world:port'], (m) => {
    for (const f of paymentsFlows()) m.emit(f);
    for (const { flow } of specExamples()) m.emit(flow);
  });
  // httpV2 counts responses only, with the client as `source` (context computed on swapped sides).
  assert.equal(series.get('hubble_http_requests_total{method=GET,protocol=HTTP/1.1,reporter=server,source=payments/checkout-service,status=200}'), 1);
  assert.equal([...series.keys()].filter((k) => k.startsWith('hubble_http_requests_total')).length, 2);
  assert.equal(series.get('hubble_kafka_requests_total{api_key=produce,error_code=0,reporter=client,topic=empire-announce}'), 1);
  assert.equal(series.get('hubble_policy_verdicts_total{action=forwarded,direction=ingress,match=l3-l4}'), 1);
  assert.equal(series.get('hubble_policy_verdicts_total{action=dropped,direction=ingress,match=l7/http}'), 1);
  assert.equal(series.get('hubble_flows_to_world_total{port=443,protocol=TCP,verdict=FORWARDED}'), 1);
});

test('invalid metric lists are rejected naming the entry', () => {
  assert.throws(() => parseMetricList(['drop', 'bogus']), /hubble\.metrics\.enabled\[1\]: unknown metric "bogus"/);
  assert.throws(() => parseMetricList(['http', 'httpV2']), /http and httpV2 cannot be enabled together/);
  assert.throws(() => parseMetricList(['flow:sourceContext=pod|nope']), /\[0\]: sourceContext: unknown context "nope"/);
  assert.throws(() => parseMetricList(['drop:labelsContext=source_pod,bad']), /labelsContext: unknown label "bad"/);
  assert.deepEqual(parseMetricList(['dns:query;ignoreAAAA']), [{ name: 'dns', options: { query: '', ignoreAAAA: '' } }]);
});
