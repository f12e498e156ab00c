/**
 * What the agent's datapath component installs for DNS (docs/datapath.md "In the agent"): a UDP
 * and a TCP port-53 redirect to the DNS proxy only when some endpoint's egress reaches the
 * resolver with `rules.dns`; egress ports include every single port the egress rules name; the
 * transparent DNS source forwards to the recorded original resolver, else to the explicit one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/index.js';
import { createEngine, parsePolicyText, worldFromObject, endpointIdentityNumbers } from '../policy/index.js';
import { ExplicitDnsSource } from '../proxy/index.js';
import { PROTO } from '../native/index.js';
import { dnsRedirects, egressPorts } from './component.js';
import { TransparentDnsSource } from './dns-source.js';

const world = worldFromObject({
  namespaces: [{ name: 'payments' }, { name: 'kube-system' }],
  endpoints: [
    { name: 'payment-service-0', namespace: 'payments', labels: { app: 'payment-service' }, ips: ['127.0.216.10'] },
    { name: 'coredns-0', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ips: ['127.0.216.53'] },
  ],
});
const egress = (rules: string): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: pay-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: payment-service}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]
${rules}
  - toFQDNs: [{matchName: "api.stripe.com"}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}, {port: "8000", endPort: 8002, protocol: TCP}]
`;
const config = loadConfig({
  sets: ['standalone.redirects=[{listen: "127.0.216.1:1053", destination: "kube-system/coredns-0:53", upstream: "127.0.216.99:53", protocol: dns}]'],
});

const cases = [
  { name: 'rules.dns on the resolver port: UDP and TCP redirects', rules: '      rules: {dns: [{matchName: "api.stripe.com"}]}', want: [PROTO.UDP, PROTO.TCP] },
  { name: 'no rules.dns: no redirect', rules: '', want: [] },
];
for (const c of cases) {
  test(`dnsRedirects: ${c.name}`, () => {
    const engine = createEngine({ policies: parsePolicyText(egress(c.rules), 'egress.yaml'), world });
    const ids = endpointIdentityNumbers(world);
    const got = dnsRedirects(config, engine, ids);
    assert.deepEqual(got.map((r) => r.proto), c.want);
    for (const r of got) {
      assert.deepEqual({ ...r, proto: 0 }, { srcIdentity: 0, dstIdentity: ids.get('kube-system/coredns-0')!.identity, port: 53, proto: 0, proxyIp: '127.0.216.1', proxyPort: 1053, policy: undefined });
    }
  });
}

test('egressPorts: 53 UDP/TCP, the redirect port, and every port the egress rules name', () => {
  const engine = createEngine({ policies: parsePolicyText(egress(''), 'egress.yaml'), world });
  const got = egressPorts(config, engine).map((p) => `${p.port}/${p.protocol}`).sort();
  assert.deepEqual(got, ['443/TCP', '53/TCP', '53/UDP', '8000/TCP', '8001/TCP', '8002/TCP'].sort());
});

test('TransparentDnsSource: recorded destination first (exact, then wildcard for UDP), else the explicit redirect', async (t) => {
  const recorded = new Map([
    ['127.0.216.10:4000', { ip: '127.0.216.53', port: 53 }],
    ['0.0.0.0:5000', { ip: '127.0.216.53', port: 53 }],
  ]);
  const origin = { originalDestination: (ip: string, port: number) => (recorded.get(`${ip}:${port}`) ?? null) as never };
  const lookup = (ip: string): string | null => world.endpoints.find((e) => e.ips.includes(ip))?.name ?? null;
  const explicit = new ExplicitDnsSource({ destinationEndpoint: 'kube-system/coredns-0', destinationPort: 53, upstream: { host: '127.0.216.99', port: 53 } }, lookup);
  const src = new TransparentDnsSource(origin, explicit, lookup);
  const local = { ip: '127.0.216.1', port: 1053 };
  const rows = [
    { client: { ip: '127.0.216.10', port: 4000 }, transport: 'TCP' as const, upstream: '127.0.216.53:53' },
    { client: { ip: '127.0.216.10', port: 5000 }, transport: 'UDP' as const, upstream: '127.0.216.53:53' },
    { client: { ip: '127.0.216.10', port: 5000 }, transport: 'TCP' as const, upstream: '127.0.216.99:53' },
    { client: { ip: '127.0.216.10', port: 6000 }, transport: 'UDP' as const, upstream: '127.0.216.99:53' },
  ];
  for (const r of rows) {
    await t.test(`${r.transport} from port ${r.client.port} -> ${r.upstream}`, () => {
      const got = src.resolve(r.client, local, r.transport)!;
      assert.equal(`${got.upstream.host}:${got.upstream.port}`, r.upstream);
      assert.equal(got.source.endpoint, lookup('127.0.216.10'));
    });
  }
});
