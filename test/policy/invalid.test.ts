// Invalid input table: each bad document is rejected with a stable code, the file, the document
// index, the field path and a line/column (policy-semantics §1.3, policy-trace contract).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregateInputError, type TendrilError } from '../../core/index.js';
import { parseCases, parsePolicyText, parseWorld } from '../../policy/index.js';

const cnp = (spec: string, extra = ''): string =>
  `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\n${extra}spec:\n${spec
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;

const sel = 'endpointSelector: {matchLabels: {app: x}}\n';
const l7 = (ports: string, rules: string): string =>
  cnp(`${sel}ingress:\n- toPorts:\n  - ports: [${ports}]\n    rules: ${rules}`);

interface Row {
  name: string;
  text: string;
  code: string;
  field?: string;
  message: RegExp;
  line?: number;
}

const rows: Row[] = [
  { name: 'bad YAML', text: 'kind: [unclosed\n', code: 'TND_POLICY_YAML', message: /invalid YAML/ },
  { name: 'unknown top-level field', text: cnp(`${sel}ingress: [{}]`, 'bogus: 1\n'), code: 'TND_POLICY_UNKNOWN_FIELD', field: 'bogus', message: /unknown field "bogus"/ },
  { name: 'unknown rule field', text: cnp(`${sel}ingres: [{}]`), code: 'TND_POLICY_UNKNOWN_FIELD', field: 'spec.ingres', message: /unknown field/, line: 6 },
  { name: 'no sections', text: cnp(sel), code: 'TND_POLICY_INVALID_FIELD', field: 'spec', message: /at least one of ingress/ },
  { name: 'both selectors', text: `apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec:\n  endpointSelector: {}\n  nodeSelector: {}\n  ingress: [{}]\n`, code: 'TND_POLICY_INVALID_FIELD', field: 'spec', message: /mutually exclusive/ },
  { name: 'no selector', text: cnp('ingress: [{}]'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec', message: /one of endpointSelector or nodeSelector/ },
  { name: 'nodeSelector in CNP', text: cnp('nodeSelector: {}\ningress: [{}]'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.nodeSelector', message: /only allowed in a CiliumClusterwideNetworkPolicy/ },
  { name: 'neither spec nor specs', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n', code: 'TND_POLICY_INVALID_FIELD', message: /needs spec or specs/ },
  { name: 'two peer families', text: cnp(`${sel}ingress:\n- fromEndpoints: [{}]\n  fromCIDR: [10.0.0.0/8]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0]', message: /combining fromEndpoints and fromCIDR/ },
  { name: 'icmps with toPorts', text: cnp(`${sel}ingress:\n- icmps: [{fields: [{type: 8}]}]\n  toPorts: [{ports: [{port: "80"}]}]`), code: 'TND_POLICY_INVALID_FIELD', message: /icmps and toPorts/ },
  { name: 'unknown entity', text: cnp(`${sel}ingress:\n- fromEntities: [everything]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].fromEntities[0]', message: /unknown entity "everything"/, line: 7 },
  { name: 'port out of range', text: cnp(`${sel}ingress:\n- toPorts: [{ports: [{port: "80800", protocol: TCP}]}]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].ports[0].port', message: /must be 0-65535, got "80800"/ },
  { name: 'bad protocol', text: cnp(`${sel}ingress:\n- toPorts: [{ports: [{port: "80", protocol: TCPX}]}]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].ports[0].protocol', message: /must be one of/ },
  { name: 'too many ports', text: cnp(`${sel}ingress:\n- toPorts: [{ports: [${Array.from({ length: 41 }, (_, i) => `{port: "${i + 1}"}`).join(', ')}]}]`), code: 'TND_POLICY_INVALID_FIELD', message: /at most 40 ports/ },
  { name: 'two L7 kinds in one block', text: l7('{port: "80", protocol: TCP}', '{http: [{}], kafka: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /only one of http, kafka, dns/ },
  { name: 'HTTP without protocol (ANY)', text: l7('{port: "80"}', '{http: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].ports[0].protocol', message: /L7 rules can only apply to TCP/ },
  { name: 'HTTP on UDP', text: l7('{port: "80", protocol: UDP}', '{http: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /only apply to TCP/ },
  { name: 'L7 on port 0', text: l7('{port: "0", protocol: TCP}', '{http: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /port "0"/ },
  { name: 'DNS on ingress', text: l7('{port: "53", protocol: UDP}', '{dns: [{matchPattern: "*"}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /only allowed on egress/ },
  { name: 'DNS with endPort', text: cnp(`${sel}egress:\n- toPorts:\n  - ports: [{port: "53", endPort: 54, protocol: UDP}]\n    rules: {dns: [{matchPattern: "*"}]}`), code: 'TND_POLICY_INVALID_FIELD', message: /port ranges/ },
  { name: 'invalid path regex', text: l7('{port: "80", protocol: TCP}', '{http: [{path: "/a("}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].rules.http[0].path', message: /invalid regular expression/ },
  { name: 'invalid method regex', text: l7('{port: "80", protocol: TCP}', '{http: [{method: "*GET"}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].rules.http[0].method', message: /invalid regular expression/ },
  { name: 'lookahead is not RE2', text: l7('{port: "80", protocol: TCP}', '{http: [{path: "/(?!admin).*"}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /not RE2/ },
  { name: 'kafka role and apiKey', text: l7('{port: "9092", protocol: TCP}', '{kafka: [{role: produce, apiKey: produce}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /mutually exclusive/ },
  { name: 'kafka bad role', text: l7('{port: "9092", protocol: TCP}', '{kafka: [{role: write}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].rules.kafka[0].role', message: /produce or consume/ },
  { name: 'kafka unknown apiKey', text: l7('{port: "9092", protocol: TCP}', '{kafka: [{apiKey: explode}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /unknown Kafka API key/ },
  { name: 'kafka apiVersion', text: l7('{port: "9092", protocol: TCP}', '{kafka: [{apiVersion: "x"}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /0-32767/ },
  { name: 'kafka topic chars', text: l7('{port: "9092", protocol: TCP}', '{kafka: [{topic: "a b"}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /a-zA-Z0-9/ },
  { name: 'headerMatches mismatch', text: l7('{port: "80", protocol: TCP}', '{http: [{headerMatches: [{name: a, mismatch: DROP}]}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /LOG, ADD, DELETE, REPLACE/ },
  { name: 'fqdn both', text: cnp(`${sel}egress:\n- toFQDNs: [{matchName: a.com, matchPattern: "*.a.com"}]`), code: 'TND_POLICY_INVALID_FIELD', message: /exactly one of matchName and matchPattern/ },
  { name: 'fqdn chars', text: cnp(`${sel}egress:\n- toFQDNs: [{matchName: "a b.com"}]`), code: 'TND_POLICY_INVALID_FIELD', message: /may contain only/ },
  { name: 'bad CIDR', text: cnp(`${sel}egress:\n- toCIDR: [10.0.0.0/33]`), code: 'TND_POLICY_INVALID_FIELD', message: /invalid CIDR/ },
  { name: 'except outside cidr', text: cnp(`${sel}egress:\n- toCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/16]}]`), code: 'TND_POLICY_INVALID_FIELD', message: /not contained/ },
  { name: 'L7 in deny', text: cnp(`${sel}ingressDeny:\n- toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{}]}}]`), code: 'TND_POLICY_UNKNOWN_FIELD', message: /unknown field "rules"/ },
  { name: 'toFQDNs in deny', text: cnp(`${sel}egressDeny:\n- toFQDNs: [{matchName: a.com}]`), code: 'TND_POLICY_UNKNOWN_FIELD', message: /unknown field "toFQDNs"/ },
  { name: 'auth in deny', text: cnp(`${sel}ingressDeny:\n- authentication: {mode: required}`), code: 'TND_POLICY_UNKNOWN_FIELD', message: /authentication/ },
  { name: 'auth mode', text: cnp(`${sel}ingress:\n- authentication: {mode: always}`), code: 'TND_POLICY_INVALID_FIELD', message: /required, disabled, test-always-fail/ },
  { name: 'fromRequires removed', text: cnp(`${sel}ingress:\n- fromRequires: [{}]`), code: 'TND_POLICY_INVALID_FIELD', message: /removed/ },
  { name: 'bad operator', text: cnp(`endpointSelector: {matchExpressions: [{key: a, operator: Maybe}]}\ningress: [{}]`), code: 'TND_POLICY_INVALID_FIELD', message: /In, NotIn, Exists, DoesNotExist/ },
  { name: 'In without values', text: cnp(`endpointSelector: {matchExpressions: [{key: a, operator: In}]}\ningress: [{}]`), code: 'TND_POLICY_INVALID_FIELD', message: /must not be empty/ },
  { name: 'wrong apiVersion', text: 'apiVersion: cilium.io/v1\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec: {endpointSelector: {}, ingress: [{}]}\n', code: 'TND_POLICY_INVALID_FIELD', field: 'apiVersion', message: /must be cilium.io\/v2/ },
  { name: 'missing name', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {}\nspec: {endpointSelector: {}, ingress: [{}]}\n', code: 'TND_POLICY_INVALID_FIELD', field: 'metadata.name', message: /is required/ },
  { name: 'NP bad policyTypes', text: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec: {podSelector: {}, policyTypes: [Sideways]}\n', code: 'TND_POLICY_INVALID_FIELD', message: /Ingress or Egress/ },
  { name: 'NP unknown peer field', text: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{serviceSelector: {}}]\n', code: 'TND_POLICY_UNKNOWN_FIELD', field: 'spec.ingress[0].from[0].serviceSelector', message: /unknown field/, line: 7 },
  // Audit additions (§1.3, one row per bullet not covered above).
  { name: 'only empty sections', text: cnp(`${sel}ingress: []\negress: []\ningressDeny: []\negressDeny: []`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec', message: /at least one of ingress/ },
  { name: 'empty specs list', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspecs: []\n', code: 'TND_POLICY_INVALID_FIELD', message: /needs spec or specs/ },
  { name: 'nodeSelector in a CNP specs entry', text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspecs:\n- nodeSelector: {}\n  ingress: [{}]\n', code: 'TND_POLICY_INVALID_FIELD', field: 'specs[0].nodeSelector', message: /only allowed in a CiliumClusterwideNetworkPolicy/ },
  { name: 'toFQDNs with toEndpoints', text: cnp(`${sel}egress:\n- toFQDNs: [{matchName: a.com}]\n  toEndpoints: [{}]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.egress[0]', message: /combining toEndpoints and toFQDNs/ },
  { name: 'two peer families in a deny rule', text: cnp(`${sel}ingressDeny:\n- fromEntities: [world]\n  fromCIDR: [1.2.3.4/32]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingressDeny[0]', message: /combining fromCIDR and fromEntities/ },
  { name: 'icmps with toPorts in a deny rule', text: cnp(`${sel}egressDeny:\n- icmps: [{fields: [{type: 8}]}]\n  toPorts: [{ports: [{port: "80"}]}]`), code: 'TND_POLICY_INVALID_FIELD', message: /icmps and toPorts/ },
  { name: 'unknown entity in a deny rule', text: cnp(`${sel}egressDeny:\n- toEntities: [bogus]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.egressDeny[0].toEntities[0]', message: /unknown entity "bogus"/ },
  { name: 'Kafka on UDP', text: l7('{port: "9092", protocol: UDP}', '{kafka: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /only apply to TCP/ },
  { name: 'Kafka without protocol', text: l7('{port: "9092"}', '{kafka: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].ports[0].protocol', message: /only apply to TCP/ },
  { name: 'HTTP with one non-TCP port in the entry', text: l7('{port: "80", protocol: TCP}, {port: "81", protocol: UDP}', '{http: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].ports[1].protocol', message: /only apply to TCP/ },
  { name: 'l7proto alone (generic parsers unsupported)', text: l7('{port: "80", protocol: TCP}', '{l7proto: envoy.http, l7: [{a: b}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].rules.l7proto', message: /not supported by Tendril/ },
  { name: 'l7proto beside http', text: l7('{port: "80", protocol: TCP}', '{l7proto: foo, http: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /only one of http, kafka, dns, l7proto/ },
  { name: 'DNS without ports', text: cnp(`${sel}egress:\n- toPorts: [{rules: {dns: [{matchName: a.com}]}}]`), code: 'TND_POLICY_INVALID_FIELD', message: /DNS rules require at least one port/ },
  { name: 'DNS with an empty ports list', text: cnp(`${sel}egress:\n- toPorts: [{ports: [], rules: {dns: [{matchName: a.com}]}}]`), code: 'TND_POLICY_INVALID_FIELD', message: /DNS rules require at least one port/ },
  { name: 'DNS on port 0', text: cnp(`${sel}egress:\n- toPorts: [{ports: [{port: "0", protocol: UDP}], rules: {dns: [{matchName: a.com}]}}]`), code: 'TND_POLICY_INVALID_FIELD', message: /port "0"/ },
  { name: 'Kafka on port 0', text: l7('{port: "0", protocol: TCP}', '{kafka: [{}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /port "0"/ },
  { name: 'invalid host regex', text: l7('{port: "80", protocol: TCP}', '{http: [{host: "a("}]}'), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].rules.http[0].host', message: /invalid regular expression/ },
  { name: 'kafka apiVersion above 32767', text: l7('{port: "9092", protocol: TCP}', '{kafka: [{apiVersion: "32768"}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /0-32767/ },
  { name: 'kafka apiVersion negative', text: l7('{port: "9092", protocol: TCP}', '{kafka: [{apiVersion: "-1"}]}'), code: 'TND_POLICY_INVALID_FIELD', message: /0-32767/ },
  { name: 'kafka topic longer than 255', text: l7('{port: "9092", protocol: TCP}', `{kafka: [{topic: ${'a'.repeat(256)}}]}`), code: 'TND_POLICY_INVALID_FIELD', message: /1-255 characters/ },
  { name: 'HTTP in a host policy', text: 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec:\n  nodeSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{}]}}]\n', code: 'TND_POLICY_INVALID_FIELD', message: /not allowed in a host policy/ },
  { name: 'Kafka on egress of a host policy', text: 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec:\n  nodeSelector: {}\n  egress:\n  - toPorts: [{ports: [{port: "9092", protocol: TCP}], rules: {kafka: [{}]}}]\n', code: 'TND_POLICY_INVALID_FIELD', message: /not allowed in a host policy/ },
  { name: 'negative port', text: cnp(`${sel}ingress:\n- toPorts: [{ports: [{port: "-1"}]}]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].ports[0].port', message: /IANA service name/ },
  { name: 'port name with bad characters', text: cnp(`${sel}ingress:\n- toPorts: [{ports: [{port: "http_x!"}]}]`), code: 'TND_POLICY_INVALID_FIELD', message: /IANA service name/ },
  { name: 'endPort out of range', text: cnp(`${sel}ingress:\n- toPorts: [{ports: [{port: "80", endPort: 70000}]}]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].toPorts[0].ports[0].endPort', message: /0-65535/ },
  { name: 'except not a CIDR', text: cnp(`${sel}ingress:\n- fromCIDRSet: [{cidr: 10.0.0.0/8, except: [bar]}]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].fromCIDRSet[0].except[0]', message: /invalid CIDR/ },
  { name: 'except wider than its cidr', text: cnp(`${sel}ingress:\n- fromCIDRSet: [{cidr: 10.0.0.0/16, except: [10.0.0.0/8]}]`), code: 'TND_POLICY_INVALID_FIELD', message: /not contained/ },
  { name: 'fqdn selector with neither field', text: cnp(`${sel}egress:\n- toFQDNs: [{}]`), code: 'TND_POLICY_INVALID_FIELD', message: /exactly one of matchName and matchPattern/ },
  { name: 'fqdn longer than 255', text: cnp(`${sel}egress:\n- toFQDNs: [{matchName: ${'a'.repeat(256)}.com}]`), code: 'TND_POLICY_INVALID_FIELD', message: /at most 255 characters/ },
  { name: 'wildcard in matchName', text: cnp(`${sel}egress:\n- toFQDNs: [{matchName: "*.a.com"}]`), code: 'TND_POLICY_INVALID_FIELD', field: 'spec.egress[0].toFQDNs[0].matchName', message: /may contain only/ },
  { name: 'toFQDNs on ingress', text: cnp(`${sel}ingress:\n- toFQDNs: [{matchName: a.com}]`), code: 'TND_POLICY_UNKNOWN_FIELD', message: /unknown field "toFQDNs"/ },
  { name: 'NP ipBlock not a CIDR', text: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: a}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: foo}}]\n', code: 'TND_POLICY_INVALID_FIELD', field: 'spec.ingress[0].from[0].ipBlock.cidr', message: /invalid CIDR/ },
  { name: 'NP ipBlock except outside', text: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: a}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [11.0.0.0/24]}}]\n', code: 'TND_POLICY_INVALID_FIELD', message: /not contained/ },
];

function errorsOf(fn: () => unknown): TendrilError[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof AggregateInputError) return err.errors;
    throw err;
  }
  assert.fail('expected the input to be rejected');
}

for (const row of rows) {
  test(`rejects: ${row.name}`, () => {
    const errs = errorsOf(() => parsePolicyText(row.text, 'pol.yaml'));
    const e = errs.find((x) => x.code === row.code && row.message.test(x.message));
    assert.ok(e, `no ${row.code} matching ${row.message}; got:\n${errs.map((x) => `${x.code} ${x.message}`).join('\n')}`);
    assert.match(e.message, /^pol\.yaml document 1/);
    assert.equal(e.context.file, 'pol.yaml');
    assert.equal(e.context.document, 1);
    if (row.field) assert.equal(e.context.field, row.field);
    if (row.line) assert.equal(e.context.line, row.line);
    if (row.code !== 'TND_POLICY_YAML') assert.ok(typeof e.context.line === 'number', 'line/column present');
  });
}

test('a set is rejected as a whole and every error is reported (document index counts)', () => {
  const good = cnp(`${sel}ingress: [{}]`);
  const bad1 = cnp(`${sel}ingress:\n- fromEntities: [nope]`);
  const bad2 = cnp(`${sel}ingress:\n- toPorts: [{ports: [{port: "99999"}]}]`);
  const errs = errorsOf(() => parsePolicyText(`${good}---\n${bad1}---\n${bad2}`, 'set.yaml'));
  assert.equal(errs.length, 2);
  assert.match(errs[0].message, /^set\.yaml document 2 \(CiliumNetworkPolicy a\/p\): spec\.ingress\[0\]\.fromEntities\[0\]/);
  assert.match(errs[1].message, /^set\.yaml document 3 .*line \d+, column \d+/);
});

test('other kinds are ignored with a warning', () => {
  const set = parsePolicyText('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n', 'cm.yaml');
  assert.equal(set.rules.length, 0);
  assert.equal(set.warnings.length, 1);
  assert.match(set.warnings[0].message, /ConfigMap/);
});

test('world and cases errors name file and field', () => {
  const w = errorsOf(() => parseWorld('endpoints:\n  - {name: a, namespace: n, ips: [1.2.3.999]}\n', 'w.yaml'));
  assert.equal(w[0].code, 'TND_WORLD_INVALID');
  assert.equal(w[0].context.field, 'endpoints[0].ips[0]');
  const c = errorsOf(() => parseCases('- {id: x, from: a/b, to: a/c, port: 70000}\n', 'c.yaml'));
  assert.equal(c[0].code, 'TND_CASES_INVALID');
  assert.equal(c[0].context.field, '[0].port');
});

test('a repeated case id is not an input error: every case is kept, in order', () => {
  const cases = parseCases('- {id: x, from: a/c, to: a/s, port: 80}\n- {id: x, from: a/c, to: a/s, port: 81}\n', 'cases.yaml');
  assert.deepEqual(cases.map((c) => [c.id, c.port]), [['x', 80], ['x', 81]]);
});

test('HTTP case headers may be a list of "Name: value" lines; a DNS case may say name instead of query', () => {
  const [h, d] = parseCases(
    '- {id: h, from: a/c, to: a/s, port: 80, http: {path: /, headers: ["X-A: 1", "x-a: 2", "X-B:3"]}}\n- {id: d, from: a/c, to: a/s, port: 53, protocol: UDP, dns: {name: A.com}}\n',
    'cases.yaml',
  );
  assert.ok(h.payload?.kind === 'http');
  assert.deepEqual(h.payload.req.headers, { 'x-a': ['1', '2'], 'x-b': '3' });
  assert.ok(d.payload?.kind === 'dns');
  assert.equal(d.payload.req.query, 'A.com');
});
