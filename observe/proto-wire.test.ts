/**
 * Golden wire checks of observe/proto against the upstream Hubble field numbers (cilium/cilium
 * api/v1/{flow,observer,relay}/*.proto, Cilium 1.14 / hubble v0.12). The messages are encoded with
 * the grpc-js serializers built from OUR .proto files and decoded here with a hand-written
 * protobuf reader that only knows the upstream numbers, so a renumbered, retyped or renamed field
 * (which proto-loader would silently drop) fails. Requests are hand-encoded with upstream numbers
 * and decoded with our serializers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHubbleGrpc } from './proto-load.js';
import { newFlow } from './new-flow.js';
import { flowToWire } from './wire.js';
import * as enums from './enums.js';

type Field = { n: number; wt: number; v: bigint | Buffer };

function varint(b: Buffer, i: number): [bigint, number] {
  let n = 0n;
  let shift = 0n;
  for (let k = 0; k < 10; k++) {
    const c = b[i++];
    if (c === undefined) throw new Error('truncated varint');
    n |= BigInt(c & 0x7f) << shift;
    if (!(c & 0x80)) return [n, i];
    shift += 7n;
  }
  throw new Error('varint too long');
}

/** Top-level fields of one message, in wire order. */
function fields(b: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  while (i < b.length) {
    const [tag, j] = varint(b, i);
    i = j;
    const n = Number(tag >> 3n);
    const wt = Number(tag & 7n);
    if (wt === 0) {
      const [v, k] = varint(b, i);
      out.push({ n, wt, v });
      i = k;
    } else if (wt === 2) {
      const [len, k] = varint(b, i);
      out.push({ n, wt, v: b.subarray(k, k + Number(len)) });
      i = k + Number(len);
    } else if (wt === 1) {
      out.push({ n, wt, v: b.subarray(i, i + 8) });
      i += 8;
    } else if (wt === 5) {
      out.push({ n, wt, v: b.subarray(i, i + 4) });
      i += 4;
    } else throw new Error(`unexpected wire type ${wt}`);
  }
  return out;
}

/** The single field number `n` (fails if absent or repeated). */
function one(b: Buffer, n: number): Field {
  const f = fields(b).filter((x) => x.n === n);
  assert.equal(f.length, 1, `field ${n} expected once, got ${f.length} in ${JSON.stringify(fields(b).map((x) => x.n))}`);
  return f[0]!;
}
const msg = (b: Buffer, n: number): Buffer => {
  const f = one(b, n);
  assert.equal(f.wt, 2, `field ${n} is not length-delimited`);
  return f.v as Buffer;
};
const num = (b: Buffer, n: number): number => {
  const f = one(b, n);
  assert.equal(f.wt, 0, `field ${n} is not a varint`);
  return Number(f.v as bigint);
};
const str = (b: Buffer, n: number): string => msg(b, n).toString('utf8');
const strs = (b: Buffer, n: number): string[] => fields(b).filter((x) => x.n === n).map((x) => (x.v as Buffer).toString('utf8'));

// Hand encoder for requests.
const tag = (n: number, wt: number): Buffer => encVarint(BigInt((n << 3) | wt));
function encVarint(v: bigint): Buffer {
  const out: number[] = [];
  do {
    let c = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) c |= 0x80;
    out.push(c);
  } while (v > 0n);
  return Buffer.from(out);
}
const vf = (n: number, v: number): Buffer => Buffer.concat([tag(n, 0), encVarint(BigInt(v))]);
const lf = (n: number, v: Buffer | string): Buffer => {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  return Buffer.concat([tag(n, 2), encVarint(BigInt(b.length)), b]);
};

type Method = { path: string; requestSerialize: (o: unknown) => Buffer; requestDeserialize: (b: Buffer) => any; responseSerialize: (o: unknown) => Buffer; responseDeserialize: (b: Buffer) => any };
const observer = (): Record<string, Method> => loadHubbleGrpc().Observer.service as unknown as Record<string, Method>;

test('service method paths are upstream ones', () => {
  const o = observer();
  for (const m of ['GetFlows', 'GetAgentEvents', 'GetDebugEvents', 'GetNodes', 'GetNamespaces', 'ServerStatus']) {
    assert.equal(o[m]?.path, `/observer.Observer/${m}`);
  }
  const h = loadHubbleGrpc().Health.service as unknown as Record<string, Method>;
  assert.equal(h.Check?.path, '/grpc.health.v1.Health/Check');
  assert.equal(h.Watch?.path, '/grpc.health.v1.Health/Watch');
});

test('GetFlowsResponse with an L7 HTTP flow encodes with upstream field numbers', () => {
  const flow = newFlow({
    time: '2024-05-01T10:00:00.123456789Z',
    uuid: 'u-1',
    verdict: 'DROPPED',
    drop_reason_desc: 'POLICY_DENIED',
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true, ACK: true } } },
    source: { ID: 12, identity: 3000, namespace: 'shop', labels: ['k8s:app=web'], pod_name: 'web-1', workloads: [{ name: 'web', kind: 'Deployment' }] },
    destination: { identity: 2, labels: ['reserved:world'] },
    node_name: 'node-1',
    source_names: ['web.shop'],
    l7: { type: 'REQUEST', latency_ns: 5, http: { code: 403, method: 'GET', url: 'http://x/y', protocol: 'HTTP/1.1', headers: [{ key: 'a', value: 'b' }] } },
    is_reply: false,
    event_type: { type: 129, sub_type: 0 },
    destination_service: { name: 'api', namespace: 'shop' },
    traffic_direction: 'EGRESS',
    policy_match_type: 3,
    trace_observation_point: 'TO_ENDPOINT',
    proxy_port: 15001,
    auth_type: 'SPIRE',
    trace_context: { parent: { trace_id: 'abc' } },
    Summary: 'HTTP/1.1 GET http://x/y',
  });
  const wire = flowToWire(flow);
  const resp = observer().GetFlows!.responseSerialize({ flow: wire, node_name: 'node-1', time: wire.time });

  const top = fields(resp).map((f) => f.n);
  assert.deepEqual(top.sort((a, b) => a - b), [1, 1000, 1001]);
  assert.equal(str(resp, 1000), 'node-1');
  const ts = msg(resp, 1001);
  assert.equal(num(ts, 1), Date.UTC(2024, 4, 1, 10) / 1000);
  assert.equal(num(ts, 2), 123456789);

  const f = msg(resp, 1);
  assert.equal(num(msg(f, 1), 2), 123456789, 'Flow.time = 1');
  assert.equal(str(f, 34), 'u-1', 'uuid = 34');
  assert.equal(num(f, 2), 2, 'verdict = 2 (DROPPED = 2)');
  assert.equal(num(f, 3), 133, 'drop_reason = 3');
  assert.equal(num(f, 25), 133, 'drop_reason_desc = 25 (POLICY_DENIED = 133)');
  assert.equal(num(f, 35), 1, 'auth_type = 35 (SPIRE = 1)');
  const ip = msg(f, 5);
  assert.deepEqual([str(ip, 1), str(ip, 2), num(ip, 3)], ['10.0.0.1', '10.0.0.2', 1]);
  const tcp = msg(msg(f, 6), 1);
  assert.deepEqual([num(tcp, 1), num(tcp, 2)], [40000, 8080]);
  const flags = msg(tcp, 3);
  assert.deepEqual([num(flags, 2), num(flags, 5)], [1, 1], 'TCPFlags SYN = 2, ACK = 5');
  const src = msg(f, 8);
  assert.deepEqual([num(src, 1), num(src, 2), str(src, 3), strs(src, 4), str(src, 5)], [12, 3000, 'shop', ['k8s:app=web'], 'web-1']);
  const wl = msg(src, 6);
  assert.deepEqual([str(wl, 1), str(wl, 2)], ['web', 'Deployment']);
  assert.equal(num(msg(f, 9), 2), 2, 'destination = 9');
  assert.equal(num(f, 10), 2, 'Type = 10 (L7 = 2)');
  assert.equal(str(f, 11), 'node-1');
  assert.deepEqual(strs(f, 13), ['web.shop']);
  const l7 = msg(f, 15);
  assert.deepEqual([num(l7, 1), num(l7, 2)], [1, 5], 'Layer7 type = 1 (REQUEST = 1), latency_ns = 2');
  const http = msg(l7, 101);
  assert.deepEqual([num(http, 1), str(http, 2), str(http, 3), str(http, 4)], [403, 'GET', 'http://x/y', 'HTTP/1.1']);
  const hdr = msg(http, 5);
  assert.deepEqual([str(hdr, 1), str(hdr, 2)], ['a', 'b']);
  // is_reply = 26 is a BoolValue wrapper: present, with value (1) false (encoders may omit the 0).
  assert.ok(fields(msg(f, 26)).every((x) => x.n === 1 && x.wt === 0 && x.v === 0n), 'is_reply = 26 BoolValue(false)');
  const et = msg(f, 19);
  assert.equal(num(et, 1), 129);
  const svc = msg(f, 21);
  assert.deepEqual([str(svc, 1), str(svc, 2)], ['api', 'shop']);
  assert.equal(num(f, 22), 2, 'traffic_direction = 22 (EGRESS = 2)');
  assert.equal(num(f, 23), 3, 'policy_match_type = 23');
  assert.equal(num(f, 24), 101, 'trace_observation_point = 24 (TO_ENDPOINT = 101)');
  assert.equal(num(f, 29), 15001, 'proxy_port = 29');
  assert.equal(str(msg(msg(f, 30), 1), 1), 'abc', 'trace_context = 30 -> parent = 1 -> trace_id = 1');
  assert.equal(str(f, 100000), 'HTTP/1.1 GET http://x/y', 'Summary = 100000');
});

test('is_reply true, DNS record and ICMP/UDP layer-4 members use upstream numbers', () => {
  const dns = newFlow({
    verdict: 'FORWARDED',
    is_reply: true,
    l4: { UDP: { source_port: 53, destination_port: 5353 } },
    l7: { type: 'RESPONSE', dns: { query: 'a.b.', ips: ['1.2.3.4'], ttl: 30, cnames: ['c.'], observation_source: 'proxy', rcode: 3, qtypes: ['A'], rrtypes: ['A'] } },
  });
  const f = observer().GetFlows!.responseSerialize({ flow: flowToWire(dns) });
  const flow = msg(f, 1);
  assert.equal(num(flow, 16), 1, 'reply = 16');
  assert.equal(num(msg(flow, 26), 1), 1, 'is_reply = 26 -> BoolValue.value = 1');
  const udp = msg(msg(flow, 6), 2);
  assert.deepEqual([num(udp, 1), num(udp, 2)], [53, 5353]);
  const d = msg(msg(flow, 15), 100);
  assert.deepEqual(
    [str(d, 1), strs(d, 2), num(d, 3), strs(d, 4), str(d, 5), num(d, 6), strs(d, 7), strs(d, 8)],
    ['a.b.', ['1.2.3.4'], 30, ['c.'], 'proxy', 3, ['A'], ['A']],
  );
  for (const [member, n] of [['ICMPv4', 3], ['ICMPv6', 4], ['SCTP', 5]] as const) {
    const l4 = member === 'SCTP' ? { SCTP: { source_port: 1, destination_port: 2 } } : { [member]: { type: 1, code: 2 } };
    const w = msg(msg(observer().GetFlows!.responseSerialize({ flow: flowToWire(newFlow({ verdict: 'FORWARDED', l4 })) }), 1), 6);
    const inner = msg(w, n);
    assert.deepEqual([num(inner, 1), num(inner, 2)], [1, 2], `Layer4.${member} = ${n}`);
  }
});

test('GetFlowsResponse lost_events = 3 and node_status = 2', () => {
  const r = observer().GetFlows!.responseSerialize({ lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: 7, cpu: { value: 1 } } });
  const le = msg(r, 3);
  assert.deepEqual([num(le, 1), num(le, 2), num(msg(le, 3), 1)], [3, 7, 1]);
  const ns = observer().GetFlows!.responseSerialize({ node_status: { state_change: 'NODE_GONE', node_names: ['n'], message: 'm' } });
  const st = msg(ns, 2);
  assert.deepEqual([num(st, 1), strs(st, 2), str(st, 3)], [3, ['n'], 'm']);
});

test('GetFlowsRequest hand-encoded with upstream numbers decodes to the right names', () => {
  const whitelist = Buffer.concat([
    lf(2, 'shop/web'), // source_pod
    lf(5, Buffer.concat([encVarint(2n), encVarint(1n)])), // verdict (packed) DROPPED, FORWARDED
    lf(4, 'shop/api'), // destination_pod
    lf(6, Buffer.concat([vf(1, 129), vf(2, 1), vf(3, 0)])), // event_type
    lf(9, '4+'), // http_status_code
    lf(12, 'tcp'), // protocol
    lf(14, '8080'), // destination_port
    vf(15, 1), // reply
    lf(18, 'a.*'), // dns_query
    lf(19, encVarint(3000n)), // source_identity (packed)
    lf(21, 'GET'), // http_method
    lf(22, '/api'), // http_path
    lf(23, vf(2, 1)), // tcp_flags SYN
    lf(24, 'node-*'), // node_name
    lf(25, encVarint(1n)), // ip_version IPv4
    lf(26, Buffer.concat([lf(1, 'web'), lf(2, 'Deployment')])), // source_workload
    lf(28, 'tid'), // trace_id
    lf(29, 'uuid-1'), // uuid
    lf(30, encVarint(1n)), // traffic_direction INGRESS
    lf(31, 'http://x'), // http_url
    lf(33, encVarint(133n)), // drop_reason_desc POLICY_DENIED
    lf(1, '10.0.0.0/8'), // source_ip
    lf(3, '10.0.0.2'), // destination_ip
    lf(7, 'a.example'), // source_fqdn
    lf(8, 'b.example'), // destination_fqdn
    lf(10, 'app=web'), // source_label
    lf(11, 'app=api'), // destination_label
    lf(13, '40000'), // source_port
    lf(16, 'shop/svc'), // source_service
    lf(17, 'shop/api'), // destination_service
    lf(20, encVarint(2n)), // destination_identity
    lf(27, Buffer.concat([lf(1, 'api'), lf(2, 'StatefulSet')])), // destination_workload
  ]);
  const req = Buffer.concat([
    vf(1, 20), // number
    vf(3, 1), // follow
    lf(5, lf(12, 'udp')), // blacklist
    lf(6, whitelist), // whitelist
    lf(7, Buffer.concat([vf(1, 100), vf(2, 5)])), // since
    lf(8, vf(1, 200)), // until
    vf(9, 1), // first
    lf(999, lf(1, lf(1, 'source.namespace'))), // experimental.field_mask.paths
  ]);
  const r = observer().GetFlows!.requestDeserialize(req);
  assert.equal(Number(r.number), 20);
  assert.equal(r.follow, true);
  assert.equal(r.first, true);
  assert.equal(r.blacklist.length, 1);
  assert.deepEqual(r.blacklist[0].protocol, ['udp']);
  assert.deepEqual([Number(r.since.seconds), r.since.nanos, Number(r.until.seconds)], [100, 5, 200]);
  assert.deepEqual(r.experimental.field_mask.paths, ['source.namespace']);
  const w = r.whitelist[0];
  const expected: Record<string, unknown> = {
    source_pod: ['shop/web'],
    verdict: ['DROPPED', 'FORWARDED'],
    destination_pod: ['shop/api'],
    http_status_code: ['4+'],
    protocol: ['tcp'],
    destination_port: ['8080'],
    reply: [true],
    dns_query: ['a.*'],
    source_identity: [3000],
    http_method: ['GET'],
    http_path: ['/api'],
    node_name: ['node-*'],
    ip_version: ['IPv4'],
    source_workload: [{ name: 'web', kind: 'Deployment' }],
    trace_id: ['tid'],
    uuid: ['uuid-1'],
    traffic_direction: ['INGRESS'],
    http_url: ['http://x'],
    drop_reason_desc: ['POLICY_DENIED'],
    source_ip: ['10.0.0.0/8'],
    destination_ip: ['10.0.0.2'],
    source_fqdn: ['a.example'],
    destination_fqdn: ['b.example'],
    source_label: ['app=web'],
    destination_label: ['app=api'],
    source_port: ['40000'],
    source_service: ['shop/svc'],
    destination_service: ['shop/api'],
    destination_identity: [2],
    destination_workload: [{ name: 'api', kind: 'StatefulSet' }],
  };
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(w[k], v, `FlowFilter.${k}`);
  assert.equal(w.event_type.length, 1);
  assert.equal(w.event_type[0].type, 129);
  assert.equal(w.event_type[0].match_sub_type, true);
  assert.equal(w.tcp_flags[0].SYN, true);
});

test('ServerStatusResponse, GetNodesResponse and GetNamespacesResponse use upstream numbers', () => {
  const o = observer();
  const st = o.ServerStatus!.responseSerialize({
    num_flows: 1, max_flows: 2, seen_flows: 3, uptime_ns: 4,
    num_connected_nodes: { value: 5 }, num_unavailable_nodes: { value: 0 }, unavailable_nodes: ['x'], version: 'v', flows_rate: 1.5,
  });
  assert.deepEqual([num(st, 1), num(st, 2), num(st, 3), num(st, 4)], [1, 2, 3, 4]);
  assert.equal(num(msg(st, 5), 1), 5, 'num_connected_nodes = 5 is a UInt32Value');
  assert.ok(fields(msg(st, 6)).every((x) => x.n === 1 && x.wt === 0 && x.v === 0n), 'num_unavailable_nodes = 6 UInt32Value(0)');
  assert.deepEqual([strs(st, 7), str(st, 8)], [['x'], 'v']);
  const rate = one(st, 9);
  assert.equal(rate.wt, 1, 'flows_rate = 9 is a double');
  assert.equal((rate.v as Buffer).readDoubleLE(0), 1.5);

  const nodes = o.GetNodes!.responseSerialize({
    nodes: [{ name: 'n', version: 'v', address: 'a:1', state: 'NODE_CONNECTED', tls: { enabled: true, server_name: 's' }, uptime_ns: 6, num_flows: 7, max_flows: 8, seen_flows: 9 }],
  });
  const n = msg(nodes, 1);
  assert.deepEqual([str(n, 1), str(n, 2), str(n, 3), num(n, 4)], ['n', 'v', 'a:1', 1]);
  const tls = msg(n, 5);
  assert.deepEqual([num(tls, 1), str(tls, 2)], [1, 's']);
  assert.deepEqual([num(n, 6), num(n, 7), num(n, 8), num(n, 9)], [6, 7, 8, 9]);

  const ns = o.GetNamespaces!.responseSerialize({ namespaces: [{ cluster: 'c', namespace: 'shop' }] });
  const one1 = msg(ns, 1);
  assert.deepEqual([str(one1, 1), str(one1, 2)], ['c', 'shop']);
});

test('enum tables in enums.ts equal the enums of flow.proto (name and number)', async () => {
  const protoLoader = await import('@grpc/proto-loader');
  const { protoDir, PROTO_LOADER_OPTIONS } = await import('./proto-load.js');
  const def = protoLoader.loadSync('flow.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir()] });
  const values = (name: string): Record<string, number> => {
    const t = def[`flow.${name}`] as unknown as { type: { value: Array<{ name: string; number: number }> } };
    return Object.fromEntries(t.type.value.map((v) => [v.name, v.number]));
  };
  assert.deepEqual(values('Verdict'), { ...enums.VERDICTS });
  assert.deepEqual(values('FlowType'), { ...enums.FLOW_TYPES });
  assert.deepEqual(values('TrafficDirection'), { ...enums.TRAFFIC_DIRECTIONS });
  assert.deepEqual(values('L7FlowType'), { ...enums.L7_FLOW_TYPES });
  assert.deepEqual(values('IPVersion'), { ...enums.IP_VERSIONS });
  assert.deepEqual(values('AuthType'), { ...enums.AUTH_TYPES });
  assert.deepEqual(values('LostEventSource'), { ...enums.LOST_EVENT_SOURCES });
  assert.deepEqual(values('TraceObservationPoint'), { ...enums.TRACE_OBSERVATION_POINTS });
  for (const [name, n] of Object.entries(values('DropReason'))) {
    assert.equal(enums.dropReasonNumber(name), n, `DropReason ${name}`);
    assert.equal(enums.dropReasonName(n), name, `DropReason ${n}`);
  }
  const drops = values('DropReason');
  for (let n = 0; n < 512; n++) {
    const name = enums.dropReasonName(n);
    if (name !== 'DROP_REASON_UNKNOWN') assert.equal(drops[name], n, `enums.ts DropReason ${name} = ${n} is not in flow.proto`);
  }
  // Spot checks against upstream numbers (independent of both tables).
  assert.equal(values('DropReason').POLICY_DENY, 181);
  assert.equal(values('DropReason').AUTH_REQUIRED, 189);
  assert.equal(values('DropReason').NO_NODE_ID, 197);
  assert.equal(values('DebugCapturePoint').DBG_CAPTURE_SNAT_POST, 11);
  assert.equal(values('TraceObservationPoint').TO_ENDPOINT, 101);
});
