/**
 * The DNS proxy with real peers (docs/dns.md): dig and Node's resolver as clients, unbound and
 * dnsmasq (Debian) as upstreams on 127.0.170.x with local zones. Enforcement of rules.dns
 * (REFUSED / NXDOMAIN, never forwarded), UDP truncation and the TCP retry, case kept on the wire,
 * learning along CNAME chains into toFQDNs verdicts, expiry with the grace period, flows, and
 * malformed datagrams that never reach the upstream.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Resolver } from 'node:dns/promises';
import pino from 'pino';
import { createEngine, parsePolicyText, worldFromObject } from '../../policy/index.js';
import type { PolicyEngine } from '../../policy/api.js';
import type { Flow, FlowSink } from '../../observe/index.js';
import { DnsProxy, ExplicitDnsSource, FqdnCache, admitQuery, buildQuery, type DnsProxyOptions } from '../../proxy/index.js';
import { startDnsmasq, startUnbound, ZONE, type DnsServer } from '../helpers/dns-servers.js';

const run = promisify(execFile);

const PAY = '127.0.170.10';
const REPORTS = '127.0.170.20';
const OUTSIDER = '127.0.170.99';

const WORLD = worldFromObject({
  namespaces: [{ name: 'payments' }, { name: 'kube-system' }],
  endpoints: [
    { name: 'payment-service-0', namespace: 'payments', labels: { app: 'payment-service' }, ips: [PAY] },
    { name: 'reports-0', namespace: 'payments', labels: { app: 'reports' }, ips: [REPORTS] },
    { name: 'coredns-0', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ips: ['127.0.170.53'] },
  ],
});

const DNS_PEER = `- toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s-app: kube-dns
    toPorts:
    - ports:
      - port: "53"
        protocol: UDP
      - port: "53"
        protocol: TCP
      rules:
        dns:`;

const POLICIES = parsePolicyText(
  `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: payment-service-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  egress:
  ${DNS_PEER}
        - matchName: "api.stripe.com"
  - toFQDNs:
    - matchName: "api.stripe.com"
    toPorts:
    - ports:
      - {port: "443", protocol: TCP}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: reports-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: reports}}
  egress:
  ${DNS_PEER}
        - matchPattern: "**.stripe.com"
        - matchName: "big.example"
        - matchPattern: "*.wild.example"
  - toFQDNs:
    - matchName: "assets.stripe.com"
    toPorts:
    - ports:
      - {port: "443", protocol: TCP}
`,
  'dns-test.yaml',
);

class Sink implements FlowSink {
  flows: Flow[] = [];
  emit(f: Flow): void {
    this.flows.push(f);
  }
}

interface Setup {
  proxy: DnsProxy;
  host: string;
  port: number;
  flows: Sink;
  cache: FqdnCache;
  engine(): PolicyEngine;
  clock: { now: number };
}

async function setup(t: TestContext, listenHost: string, upstream: DnsServer, options: Partial<DnsProxyOptions> = {}, graceMs = 0): Promise<Setup> {
  let current: PolicyEngine = createEngine({ policies: POLICIES, world: WORLD });
  const clock = { now: Date.now() };
  const cache = new FqdnCache({ now: () => clock.now, graceMs });
  cache.onChange((names) => {
    current = current.withLearnedFqdns!(names);
  });
  const flows = new Sink();
  const proxy = new DnsProxy({
    listen: { host: listenHost, port: 0 },
    source: new ExplicitDnsSource({ destinationEndpoint: 'kube-system/coredns-0', destinationPort: 53, upstream: { host: upstream.host, port: upstream.port } }, (ip) => current.endpointByIp(ip)),
    engine: () => current,
    log: pino({ level: 'silent' }),
    flows,
    describe: (ep) => (ep ? { namespace: ep.split('/')[0], pod_name: ep.split('/')[1], labels: [] } : { labels: ['reserved:world'] }),
    cache,
    options,
  });
  await proxy.start();
  t.after(() => proxy.close());
  return { proxy, host: listenHost, port: proxy.address.port, flows, cache, engine: () => current, clock };
}

async function dig(s: Setup, from: string, args: string[]): Promise<string> {
  const { stdout } = await run('dig', [`@${s.host}`, '-p', String(s.port), '-b', from, '+tries=1', '+time=3', ...args]);
  return stdout;
}

function status(out: string): string {
  return /status: ([A-Z]+)/.exec(out)?.[1] ?? `no status in: ${out}`;
}

function verdictTo(s: Setup, from: string, ip: string, port = 443): boolean {
  return s.engine().connection({ from: { endpoint: from }, to: { ip }, port, protocol: 'TCP' }).verdict.allowed;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let unbound: DnsServer;
let dnsmasq: DnsServer;

test.before(async () => {
  [unbound, dnsmasq] = await Promise.all([startUnbound('127.0.170.53'), startDnsmasq('127.0.170.54')]);
});
test.after(async () => {
  await Promise.all([unbound?.stop(), dnsmasq?.stop()]);
});

test('dig over UDP and TCP: the allowed name resolves, others are REFUSED; case kept on the wire', async (t) => {
  const s = await setup(t, '127.0.170.1', unbound);
  for (const tcp of [[], ['+tcp']]) {
    const ok = await dig(s, PAY, ['api.stripe.com', 'A', ...tcp]);
    assert.equal(status(ok), 'NOERROR', ok);
    for (const ip of ZONE.api) assert.match(ok, new RegExp(ip.replace(/\./g, '\\.')));
    const denied = await dig(s, PAY, ['google.com', 'A', ...tcp]);
    assert.equal(status(denied), 'REFUSED', denied);
    assert.match(denied, /ANSWER: 0/);
  }
  const mixed = await dig(s, PAY, ['API.Stripe.COM', 'A']);
  assert.equal(status(mixed), 'NOERROR');
  assert.match(mixed, /^API\.Stripe\.COM\.\s+\d+\s+IN\s+A\s+52\.1\.1\.1/m);
  // An address that is no endpoint (world) has no egress rules.dns of its own; the DNS server
  // endpoint's ingress is not enforced: allowed through.
  const world = await dig(s, OUTSIDER, ['api.stripe.com']);
  assert.equal(status(world), 'NOERROR');
  assert.equal(s.proxy.stats.denied, 2);
});

test("Node's resolver: resolve4/resolve6 through the proxy; a denied name rejects with EREFUSED", async (t) => {
  const s = await setup(t, '127.0.170.2', unbound);
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setLocalAddress(PAY);
  r.setServers([`${s.host}:${s.port}`]);
  assert.deepEqual((await r.resolve4('api.stripe.com')).sort(), [...ZONE.api].sort());
  assert.deepEqual(await r.resolve6('api.stripe.com'), [ZONE.api6]);
  await assert.rejects(r.resolve4('files.stripe.com'), (err: NodeJS.ErrnoException) => err.code === 'EREFUSED');
});

test('rejectResponseCode nameError answers NXDOMAIN', async (t) => {
  const s = await setup(t, '127.0.170.3', unbound, { rejectResponseCode: 'nameError' });
  assert.equal(status(await dig(s, PAY, ['google.com'])), 'NXDOMAIN');
  assert.equal(status(await dig(s, PAY, ['api.stripe.com'])), 'NOERROR');
});

test('truncation: +noedns over UDP gets TC=1 from unbound, dig retries over TCP through the proxy and gets all answers', async (t) => {
  const s = await setup(t, '127.0.170.4', unbound);
  const sock = dgram.createSocket('udp4');
  t.after(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, REPORTS, () => r()));
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no UDP reply')), 3000);
    sock.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    sock.send(buildQuery(77, 'big.example', 1), s.port, s.host);
  });
  assert.equal(reply.readUInt16BE(0), 77);
  assert.equal(reply[2]! & 0x02, 0x02, 'TC set');
  const out = await dig(s, REPORTS, ['+noedns', 'big.example', 'A']);
  assert.match(out, /Truncated, retrying in TCP mode/);
  assert.equal(status(out), 'NOERROR');
  assert.equal((out.match(/\sIN\s+A\s+10\.9\.0\./g) ?? []).length, ZONE.bigCount);
});

test('learning: answered IPs become toFQDNs-allowed for the asking pod, others stay denied; expiry after the grace period', async (t) => {
  const s = await setup(t, '127.0.170.5', unbound, {}, 5_000);
  assert.equal(verdictTo(s, 'payments/payment-service-0', ZONE.api[0]!), false, 'nothing learned yet');
  await dig(s, PAY, ['api.stripe.com', 'A']);
  for (const ip of ZONE.api) assert.equal(verdictTo(s, 'payments/payment-service-0', ip), true, ip);
  assert.equal(verdictTo(s, 'payments/payment-service-0', '52.1.1.9'), false, 'never learned');
  assert.equal(verdictTo(s, 'payments/payment-service-0', ZONE.api[0]!, 8443), false, 'other port');
  const rows = s.cache.list();
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.name, 'api.stripe.com.');
  assert.equal(rows[0]!.source, 'payments/payment-service-0');
  assert.deepEqual(rows[0]!.ips.map((i) => i.ip).sort(), [...ZONE.api].sort());
  assert.ok(rows[0]!.ips.every((i) => i.ttl === 60 && i.ttlLeftSeconds <= 60 && i.ttlLeftSeconds > 55));
  // TTL (60 s) passed but within the grace period (5 s): still allowed.
  s.clock.now += 62_000;
  await s.cache.sweep();
  assert.equal(verdictTo(s, 'payments/payment-service-0', ZONE.api[0]!), true, 'inside grace');
  s.clock.now += 4_000;
  assert.equal(await s.cache.sweep(), 2);
  assert.equal(verdictTo(s, 'payments/payment-service-0', ZONE.api[0]!), false, 'expired');
  assert.equal(s.cache.list().length, 0);
});

test('dnsmasq CNAME chain: IPs on the chain are attributed to the asked name', async (t) => {
  const s = await setup(t, '127.0.170.6', dnsmasq);
  const out = await dig(s, REPORTS, ['assets.stripe.com', 'A']);
  assert.equal(status(out), 'NOERROR');
  assert.match(out, /CNAME\s+files\.stripe\.com\./);
  assert.deepEqual(s.cache.list().map((r) => [r.name, r.ips.map((i) => i.ip)]), [['assets.stripe.com.', [ZONE.api[0]]]]);
  assert.equal(verdictTo(s, 'payments/reports-0', ZONE.api[0]!), true);
  // payment-service has no toFQDNs for assets.stripe.com: the learned IP is not for it.
  assert.equal(verdictTo(s, 'payments/payment-service-0', ZONE.api[0]!), false);
  const resp = s.flows.flows.find((f) => f.is_reply && f.l7?.dns?.query === 'assets.stripe.com.');
  assert.ok(resp);
  assert.deepEqual(resp.l7!.dns!.cnames, ['files.stripe.com.', 'api.stripe.com.']);
  assert.deepEqual(resp.l7!.dns!.rrtypes, ['CNAME', 'CNAME', 'A']);
  assert.equal(resp.l7!.dns!.ttl, 60);
});

test('flows: REQUEST FORWARDED/DROPPED and RESPONSE with l7.dns fields', async (t) => {
  const s = await setup(t, '127.0.170.7', unbound);
  await dig(s, PAY, ['api.stripe.com', 'A']);
  await dig(s, PAY, ['evil.example', 'AAAA']);
  const f = s.flows.flows;
  const req = f.find((x) => x.l7?.type === 'REQUEST' && x.l7.dns?.query === 'api.stripe.com.');
  assert.ok(req);
  assert.equal(req.verdict, 'FORWARDED');
  assert.deepEqual(req.l7!.dns!.qtypes, ['A']);
  assert.equal(req.l7!.dns!.observation_source, 'proxy');
  assert.equal(req.source?.pod_name, 'payment-service-0');
  assert.equal(req.destination?.pod_name, 'coredns-0');
  assert.equal(req.l4?.UDP?.destination_port, 53);
  assert.equal(req.traffic_direction, 'EGRESS');
  const resp = f.find((x) => x.l7?.type === 'RESPONSE' && x.l7.dns?.query === 'api.stripe.com.');
  assert.ok(resp);
  assert.equal(resp.verdict, 'FORWARDED');
  assert.equal(resp.l7!.dns!.rcode, 0);
  assert.deepEqual([...resp.l7!.dns!.ips!].sort(), [...ZONE.api].sort());
  assert.equal(resp.l7!.dns!.ttl, 60);
  assert.ok((resp.l7!.latency_ns ?? 0) > 0);
  const denied = f.find((x) => x.l7?.dns?.query === 'evil.example.');
  assert.ok(denied);
  assert.equal(denied.verdict, 'DROPPED');
  assert.deepEqual(denied.l7!.dns!.qtypes, ['AAAA']);
  assert.ok(denied.egress_denied_by?.length || denied.drop_reason_desc === 'POLICY_DENIED', JSON.stringify(denied));
  assert.equal(f.filter((x) => x.l7?.dns?.query === 'evil.example.').length, 1, 'no response flow for a denied query');
});

test('malformed datagrams: FORMERR/NOTIMP or silence, never forwarded; the proxy keeps serving', async (t) => {
  // A recording upstream: counts every datagram it receives.
  const up = dgram.createSocket('udp4');
  const forwarded: Buffer[] = [];
  up.on('message', (m) => forwarded.push(m));
  await new Promise<void>((r) => up.bind(0, '127.0.170.55', () => r()));
  t.after(() => up.close());
  const s = await setup(t, '127.0.170.8', { host: '127.0.170.55', port: up.address().port, pid: 0, log: () => '', stop: async () => undefined });
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  await new Promise<void>((r) => client.bind(0, PAY, () => r()));
  const replies: Buffer[] = [];
  client.on('message', (m) => replies.push(m));
  const good = buildQuery(5, 'api.stripe.com', 1);
  const bad: Buffer[] = [
    Buffer.from([1, 2, 3]),
    Buffer.concat([good.subarray(0, 2), Buffer.from([0x81]), good.subarray(3)]), // QR=1
    Buffer.concat([good.subarray(0, 2), Buffer.from([0x11]), good.subarray(3)]), // STATUS
    Buffer.concat([good.subarray(0, 4), Buffer.from([0, 2]), good.subarray(6)]), // QDCOUNT 2
    Buffer.concat([good.subarray(0, 12), Buffer.from([3, 0x61, 0x62, 0x63, 0xc0, 12, 0, 1, 0, 1])]),
    good.subarray(0, good.length - 2),
  ];
  for (let i = 0; i < 500; i++) {
    const m = Buffer.from(good);
    m[12 + (i % (m.length - 12))] = (i * 37) & 0xff;
    if (m[12 + (i % (m.length - 12))] !== good[12 + (i % (m.length - 12))]) bad.push(m);
  }
  // In batches of 25, each handled (answered, dropped or forwarded) before the next, so the
  // socket's receive buffer never overflows.
  for (let i = 0; i < bad.length; i += 25) {
    for (const m of bad.slice(i, i + 25)) client.send(m, s.port, s.host);
    const want = Math.min(bad.length, i + 25);
    await until(() => s.proxy.stats.queries === want, 10_000);
  }
  await new Promise((r) => setTimeout(r, 100));
  // Mutations that are still well-formed queries are judged: payment-service may ask only
  // api.stripe.com (any case, type or class), everything else is refused. Only such queries
  // reach the upstream.
  for (const m of forwarded) {
    const a = admitQuery(m);
    assert.ok(a.kind === 'query' && a.query.name.normalized === 'api.stripe.com.', `forwarded ${m.toString('hex')}`);
  }
  const before = forwarded.length;
  assert.ok(replies.every((r) => [1, 4, 5].includes(r[3]! & 0xf)), 'only FORMERR, NOTIMP or REFUSED');
  assert.ok(s.proxy.stats.malformed >= 3);
  assert.ok(s.proxy.stats.dropped >= 2);
  // Still serving: a good query is forwarded (the recording upstream never answers: no reply, by D6).
  client.send(good, s.port, s.host);
  await until(() => forwarded.length === before + 1, 5_000);
});

test('TCP: several queries on one connection, a denied one in between; answers matched by ID', async (t) => {
  const s = await setup(t, '127.0.170.9', unbound);
  const sock = net.connect({ host: s.host, port: s.port, localAddress: PAY });
  t.after(() => sock.destroy());
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const frame = (m: Buffer): Buffer => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
  sock.write(Buffer.concat([frame(buildQuery(101, 'api.stripe.com', 1)), frame(buildQuery(102, 'google.com', 1)), frame(buildQuery(103, 'API.stripe.com', 28))]));
  const replies = new Map<number, Buffer>();
  let buf = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${replies.size} replies`)), 5000);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        replies.set(m.readUInt16BE(0), Buffer.from(m));
      }
      if (replies.size === 3) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  assert.equal(replies.get(101)![3]! & 0xf, 0);
  assert.equal(replies.get(102)![3]! & 0xf, 5);
  assert.equal(replies.get(103)![3]! & 0xf, 0);
  assert.ok(replies.get(103)!.includes(Buffer.from('API')), 'case echoed');
});
