/**
 * X.509-SVID verification: every negative case class of docs/identity.md "What is verified"
 * (ID syntax, leaf flags, EKU, chain, bundle, expiry, mismatch) plus positives, through the CLI
 * (`tendril identity verify`, in-process and one real process) and through the library, on EC
 * P-256 chains made by openssl and RSA chains made by node-forge.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { runCli } from '../../agent/cli/main.js';
import { readCertificates, readPrivateKey, verifySvid, REJECTIONS, normalizeTrustDomain } from '../../identity/index.js';
import { OpensslPki, forgeIssue, type Issued } from './pki.js';

const TD = 'example.org';
const OTHER = 'other.org';

interface Row {
  name: string;
  cls: 'positive' | 'ID syntax' | 'leaf flags' | 'EKU' | 'chain' | 'bundle' | 'expiry' | 'mismatch';
  bundles: [string, string][];
  chain: string;
  key?: string;
  expect?: string;
  role?: 'client' | 'server';
  at?: string;
  /** Accepted SPIFFE ID, or the rejection code. */
  want: { id: string } | { code: keyof typeof REJECTIONS };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await runCli(args, { stdout: out, stderr: err });
  return { code, stdout, stderr };
}

function argsOf(r: Row): string[] {
  const a = ['identity', 'verify', '--chain', r.chain];
  for (const [td, f] of r.bundles) a.push('--bundle', `${td}=${f}`);
  if (r.key) a.push('--key', r.key);
  if (r.expect) a.push('--expect', r.expect);
  if (r.role) a.push('--role', r.role);
  if (r.at) a.push('--at', r.at);
  return a;
}

const pki = new OpensslPki();
const rows: Row[] = [];
const ID = `spiffe://${TD}/ns/payments/sa/payment-service`;
const days = (n: number): string => new Date(Date.now() + n * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

before(() => {
  const root = pki.root('root', TD);
  const root2 = pki.root('root2', TD);
  const oroot = pki.root('oroot', OTHER);
  const int = pki.intermediate('int', root, TD);
  const rootB = pki.write('bundle.pem', root.certPem);
  const rootDer = pki.write('bundle.der', root.certDer);
  const rotB = pki.write('bundle2.pem', root2.certPem);
  const otherB = pki.write('obundle.pem', oroot.certPem);
  const chainOf = (name: string, ...certs: Issued[]): string => pki.write(`${name}.chain.pem`, certs.map((c) => c.certPem).join(''));
  const add = (r: Row): void => void rows.push(r);
  const leafRow = (name: string, cls: Row['cls'], san: string | null, override: Record<string, string | null>, want: Row['want'], extra: Partial<Row> = {}): void => {
    const leaf = pki.leaf(name, int, san, override);
    add({ name, cls, bundles: [[TD, rootB]], chain: chainOf(name, leaf, int), want, ...extra });
  };

  // Positives.
  const good = pki.leaf('good', int, `URI:${ID}`);
  add({ name: 'EC leaf via intermediate, PEM', cls: 'positive', bundles: [[TD, rootB]], chain: chainOf('good', good, int), want: { id: ID } });
  add({
    name: 'concatenated DER chain, DER bundle, PKCS#8 DER key, expected ID, server role',
    cls: 'positive',
    bundles: [[TD, rootDer]],
    chain: pki.write('good.chain.der', Buffer.concat([good.certDer, int.certDer])),
    key: pki.write('good.key.der', good.keyDer),
    expect: ID,
    role: 'server',
    want: { id: ID },
  });
  add({ name: 'PKCS#8 PEM key', cls: 'positive', bundles: [[TD, rootB]], chain: chainOf('good2', good, int), key: pki.write('good.key.pem', good.keyPem), want: { id: ID } });
  const direct = pki.leaf('direct', root, `URI:${ID}`);
  add({ name: 'leaf issued directly by the root', cls: 'positive', bundles: [[TD, rootB]], chain: chainOf('direct', direct), want: { id: ID } });
  const rot = pki.leaf('rot', root2, `URI:${ID}`);
  add({ name: 'two roots in one trust domain (CA rotation), --bundle twice', cls: 'positive', bundles: [[TD, rootB], [`spiffe://${TD}`, rotB]], chain: chainOf('rot', rot), want: { id: ID } });
  leafRow('no EKU, no BasicConstraints', 'positive', `URI:${ID}`, { extendedKeyUsage: null, basicConstraints: null }, { id: ID });
  leafRow('DNS SAN next to the URI SAN is ignored', 'positive', `URI:${ID},DNS:payment.example`, {}, { id: ID });
  const fed = pki.leaf('fed', oroot, `URI:spiffe://${OTHER}/ns/a/sa/b`);
  add({ name: 'federated trust domain with its own bundle', cls: 'positive', bundles: [[TD, rootB], [OTHER, otherB]], chain: chainOf('fed', fed), want: { id: `spiffe://${OTHER}/ns/a/sa/b` } });
  const rsaRoot = forgeIssue('rsa-root', undefined, { ca: true, keyUsage: { keyCertSign: true, cRLSign: true, critical: true }, uris: [`spiffe://${TD}`] });
  const rsaB = pki.write('rsa-bundle.pem', rsaRoot.certPem);
  const rsaLeaf = forgeIssue('rsa-leaf', rsaRoot, { uris: [ID], keyUsage: { digitalSignature: true, keyEncipherment: true, critical: true }, eku: true });
  add({ name: 'RSA leaf (node-forge) with key', cls: 'positive', bundles: [[TD, rsaB]], chain: chainOf('rsa-leaf', rsaLeaf), key: pki.write('rsa.key.pem', rsaLeaf.keyPem), want: { id: ID } });

  // ID syntax.
  leafRow('uppercase trust domain', 'ID syntax', 'URI:spiffe://Example.org/ns/a/sa/b', {}, { code: 'INVALID_SPIFFE_ID' });
  leafRow('non-spiffe scheme', 'ID syntax', 'URI:https://example.org/ns/a/sa/b', {}, { code: 'INVALID_SPIFFE_ID' });
  leafRow('dot-dot path segment', 'ID syntax', 'URI:spiffe://example.org/ns/../sa/b', {}, { code: 'INVALID_SPIFFE_ID' });
  leafRow('percent-encoded path', 'ID syntax', 'URI:spiffe://example.org/ns/a%2Fb', {}, { code: 'INVALID_SPIFFE_ID' });
  leafRow('trailing slash', 'ID syntax', 'URI:spiffe://example.org/ns/a/', {}, { code: 'INVALID_SPIFFE_ID' });
  leafRow('trust-domain ID as a leaf', 'ID syntax', `URI:spiffe://${TD}`, {}, { code: 'ID_HAS_NO_PATH' });
  leafRow('no URI SAN (DNS only)', 'ID syntax', 'DNS:payment.example', {}, { code: 'NO_URI_SAN' });
  leafRow('no SAN at all', 'ID syntax', null, {}, { code: 'NO_URI_SAN' });
  leafRow('two URI SANs', 'ID syntax', `URI:${ID},URI:spiffe://${TD}/ns/payments/sa/admin`, {}, { code: 'MULTIPLE_URI_SANS' });
  const rsaTwo = forgeIssue('rsa-two', rsaRoot, { uris: [ID, `spiffe://${TD}/x`], keyUsage: { digitalSignature: true, critical: true } });
  add({ name: 'RSA leaf with two URI SANs', cls: 'ID syntax', bundles: [[TD, rsaB]], chain: chainOf('rsa-two', rsaTwo), want: { code: 'MULTIPLE_URI_SANS' } });

  // Leaf flags.
  leafRow('leaf with CA:TRUE', 'leaf flags', `URI:${ID}`, { basicConstraints: 'critical,CA:TRUE' }, { code: 'LEAF_IS_CA' });
  leafRow('leaf with keyCertSign', 'leaf flags', `URI:${ID}`, { keyUsage: 'critical,digitalSignature,keyCertSign' }, { code: 'LEAF_KEY_CERT_SIGN' });
  leafRow('leaf with cRLSign', 'leaf flags', `URI:${ID}`, { keyUsage: 'critical,digitalSignature,cRLSign' }, { code: 'LEAF_CRL_SIGN' });
  leafRow('leaf without KeyUsage', 'leaf flags', `URI:${ID}`, { keyUsage: null }, { code: 'NO_KEY_USAGE' });
  leafRow('leaf KeyUsage not critical', 'leaf flags', `URI:${ID}`, { keyUsage: 'digitalSignature' }, { code: 'KEY_USAGE_NOT_CRITICAL' });
  leafRow('leaf KeyUsage without digitalSignature', 'leaf flags', `URI:${ID}`, { keyUsage: 'critical,keyEncipherment' }, { code: 'NO_DIGITAL_SIGNATURE' });
  const rsaCa = forgeIssue('rsa-ca-leaf', rsaRoot, { ca: true, uris: [ID], keyUsage: { digitalSignature: true, critical: true } });
  add({ name: 'RSA leaf with CA:TRUE', cls: 'leaf flags', bundles: [[TD, rsaB]], chain: chainOf('rsa-ca-leaf', rsaCa), want: { code: 'LEAF_IS_CA' } });

  // EKU.
  leafRow('serverAuth-only leaf presented as client', 'EKU', `URI:${ID}`, { extendedKeyUsage: 'serverAuth' }, { code: 'EKU_WRONG_ROLE' });
  leafRow('clientAuth-only leaf presented as server', 'EKU', `URI:${ID}`, { extendedKeyUsage: 'clientAuth' }, { code: 'EKU_WRONG_ROLE' }, { role: 'server' });
  leafRow('clientAuth-only leaf presented as client', 'EKU', `URI:${ID}`, { extendedKeyUsage: 'clientAuth' }, { code: 'EKU_INCOMPLETE' });

  // Chain.
  add({ name: 'empty chain file', cls: 'chain', bundles: [[TD, rootB]], chain: pki.write('empty.der', Buffer.alloc(0)), want: { code: 'CHAIN_EMPTY' } });
  add({ name: 'intermediate missing from the chain', cls: 'chain', bundles: [[TD, rootB]], chain: chainOf('noint', good), want: { code: 'UNTRUSTED_CHAIN' } });
  add({ name: 'chain of an unknown root', cls: 'chain', bundles: [[TD, rotB]], chain: chainOf('unk', good, int), want: { code: 'UNTRUSTED_CHAIN' } });
  const int2 = pki.intermediate('int2', root, TD);
  add({ name: 'leaf followed by an unrelated intermediate', cls: 'chain', bundles: [[TD, rootB]], chain: chainOf('broken', good, int2), want: { code: 'CHAIN_BROKEN' } });
  const impostor = pki.issue('imp', '/O=int', root, { ext: ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign'] });
  const forged = pki.issue('forged', '/C=US/O=SPIRE', impostor, {
    ext: ['keyUsage=critical,digitalSignature', `subjectAltName=URI:${ID}`],
    aki: false,
  });
  add({ name: 'leaf signed by a different key under the same issuer name', cls: 'chain', bundles: [[TD, rootB]], chain: chainOf('forged', forged, int), want: { code: 'BAD_SIGNATURE' } });
  const notCa = pki.intermediate('notca', root, TD, ['basicConstraints=critical,CA:FALSE']);
  const underNotCa = pki.leaf('under-notca', notCa, `URI:${ID}`);
  add({ name: 'intermediate that is not a CA', cls: 'chain', bundles: [[TD, rootB]], chain: chainOf('notca', underNotCa, notCa), want: { code: 'SIGNER_NOT_CA' } });
  const noKcs = pki.intermediate('nokcs', root, TD, ['keyUsage=critical,digitalSignature']);
  const underNoKcs = pki.leaf('under-nokcs', noKcs, `URI:${ID}`);
  add({ name: 'intermediate without keyCertSign', cls: 'chain', bundles: [[TD, rootB]], chain: chainOf('nokcs', underNoKcs, noKcs), want: { code: 'SIGNER_NO_KEY_CERT_SIGN' } });
  const plRoot = pki.root('plroot', TD, [], 3650);
  const plRootB = pki.write('plroot.pem', plRoot.certPem);
  const plInt = pki.intermediate('plint', plRoot, TD, ['basicConstraints=critical,CA:TRUE,pathlen:0']);
  const plInt2 = pki.intermediate('plint2', plInt, TD);
  const plLeaf = pki.leaf('plleaf', plInt2, `URI:${ID}`);
  add({ name: 'pathLenConstraint 0 with an intermediate below', cls: 'chain', bundles: [[TD, plRootB]], chain: chainOf('pl', plLeaf, plInt2, plInt), want: { code: 'PATH_LENGTH_EXCEEDED' } });
  const ncInt = pki.intermediate('ncint', root, TD, [`nameConstraints=critical,permitted;URI:.${TD}`]);
  const ncLeaf = pki.leaf('ncleaf', ncInt, `URI:${ID}`);
  add({ name: 'intermediate with name constraints', cls: 'chain', bundles: [[TD, rootB]], chain: chainOf('nc', ncLeaf, ncInt), want: { code: 'NAME_CONSTRAINTS_UNSUPPORTED' } });
  const pathInt = pki.intermediate('pathint', root, TD, [`subjectAltName=URI:spiffe://${TD}/ca`]);
  const pathLeaf = pki.leaf('pathleaf', pathInt, `URI:${ID}`);
  add({ name: 'intermediate whose SPIFFE ID has a path', cls: 'chain', bundles: [[TD, rootB]], chain: chainOf('pathint', pathLeaf, pathInt), want: { code: 'SIGNER_ID_HAS_PATH' } });

  // Bundle.
  const cross = pki.leaf('cross', int, `URI:spiffe://${OTHER}/ns/payments/sa/payment-service`);
  add({ name: 'other.org leaf under the example.org CA, only example.org loaded', cls: 'bundle', bundles: [[TD, rootB]], chain: chainOf('cross1', cross, int), want: { code: 'UNKNOWN_TRUST_DOMAIN' } });
  add({ name: 'other.org leaf under the example.org CA, both bundles loaded', cls: 'bundle', bundles: [[TD, rootB], [OTHER, otherB]], chain: chainOf('cross2', cross, int), want: { code: 'WRONG_TRUST_DOMAIN' } });

  // Expiry.
  add({ name: 'leaf expired at --at', cls: 'expiry', bundles: [[TD, rootB]], chain: chainOf('exp', good, int), at: days(31), want: { code: 'EXPIRED' } });
  add({ name: 'leaf not yet valid at --at', cls: 'expiry', bundles: [[TD, rootB]], chain: chainOf('nyv', good, int), at: days(-1), want: { code: 'NOT_YET_VALID' } });
  const shortInt = pki.intermediate('shortint', root, TD, [], 2);
  const longLeaf = pki.leaf('longleaf', shortInt, `URI:${ID}`, {}, { days: 30 });
  add({ name: 'intermediate expired while the leaf is valid', cls: 'expiry', bundles: [[TD, rootB]], chain: chainOf('expint', longLeaf, shortInt), at: days(5), want: { code: 'EXPIRED' } });
  const shortRoot = pki.root('shortroot', TD, [], 2);
  const underShort = pki.leaf('undershort', shortRoot, `URI:${ID}`, {}, { days: 30 });
  add({ name: 'bundle root expired', cls: 'expiry', bundles: [[TD, pki.write('shortroot.pem', shortRoot.certPem)]], chain: chainOf('undershort', underShort), at: days(5), want: { code: 'EXPIRED' } });

  // Mismatch.
  add({ name: 'expected another SPIFFE ID', cls: 'mismatch', bundles: [[TD, rootB]], chain: chainOf('mm', good, int), expect: `spiffe://${TD}/ns/payments/sa/admin`, want: { code: 'ID_MISMATCH' } });
  add({ name: 'key of another workload', cls: 'mismatch', bundles: [[TD, rootB]], chain: chainOf('km', good, int), key: pki.write('other.key.pem', direct.keyPem), want: { code: 'KEY_MISMATCH' } });
});

after(() => pki.cleanup());

describe('tendril identity verify: table (CLI and library)', () => {
  test('every row', async (t) => {
    assert.ok(rows.length > 40, `${rows.length} rows`);
    const classes = new Set(rows.map((r) => r.cls));
    for (const c of ['positive', 'ID syntax', 'leaf flags', 'EKU', 'chain', 'bundle', 'expiry', 'mismatch']) assert.ok(classes.has(c as Row['cls']), c);
    for (const r of rows) {
      await t.test(`${r.cls}: ${r.name}`, async () => {
        const res = await cli(argsOf(r));
        const bundles = new Map<string, ReturnType<typeof readCertificates>>();
        for (const [td, f] of r.bundles) {
          const n = normalizeTrustDomain(td);
          bundles.set(n, [...(bundles.get(n) ?? []), ...readCertificates(readFileSync(f))]);
        }
        const lib = verifySvid({
          chain: readCertificates(readFileSync(r.chain)),
          bundles,
          ...(r.role ? { role: r.role } : {}),
          ...(r.at ? { at: new Date(r.at) } : {}),
          ...(r.expect ? { expect: r.expect } : {}),
          ...(r.key ? { key: readPrivateKey(readFileSync(r.key)) } : {}),
        });
        if ('id' in r.want) {
          assert.equal(res.code, 0, res.stderr);
          const out = JSON.parse(res.stdout) as { spiffeId: string; trustDomain: string; notAfter: string };
          assert.equal(out.spiffeId, r.want.id);
          assert.equal(out.trustDomain, r.want.id.slice('spiffe://'.length).split('/')[0]);
          assert.ok(!Number.isNaN(Date.parse(out.notAfter)));
          assert.equal(res.stderr, '');
          assert.ok(lib.ok && lib.spiffeId === r.want.id, JSON.stringify(lib));
        } else {
          assert.equal(res.code, 1, `exit ${res.code}: ${res.stdout}${res.stderr}`);
          assert.equal(res.stdout, '');
          assert.match(res.stderr, new RegExp(`^rejected: ${r.want.code}: .+\\n$`));
          assert.equal(res.stderr.split('\n').length, 2, 'one line');
          assert.ok(!lib.ok && lib.code === r.want.code, JSON.stringify(lib));
        }
      });
    }
  });
});

describe('tendril identity verify: unreadable input and usage', () => {
  test('missing chain file exits 2 naming it', async () => {
    const r = await cli(['identity', 'verify', '--bundle', `${TD}=${pki.dir}/bundle.pem`, '--chain', `${pki.dir}/nope.pem`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.pem/);
  });
  test('garbage DER bundle exits 2 naming it', async () => {
    const f = pki.write('garbage.der', Buffer.from([0x30, 0x82, 0xff, 0xff, 1, 2, 3]));
    const r = await cli(['identity', 'verify', '--bundle', `${TD}=${f}`, '--chain', `${pki.dir}/good.chain.pem`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /garbage\.der/);
  });
  test('trailing bytes after the last DER certificate exit 2', async () => {
    const good = readFileSync(`${pki.dir}/good.chain.der`);
    const f = pki.write('trailing.der', Buffer.concat([good, Buffer.from([0x30, 0x05, 1])]));
    const r = await cli(['identity', 'verify', '--bundle', `${TD}=${pki.dir}/bundle.pem`, '--chain', f]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /trailing\.der/);
  });
  test('a bad --at, --role or trust domain exits 2', async () => {
    const base = ['identity', 'verify', '--chain', `${pki.dir}/good.chain.pem`];
    assert.equal((await cli([...base, '--bundle', `${TD}=${pki.dir}/bundle.pem`, '--at', 'yesterday'])).code, 2);
    assert.equal((await cli([...base, '--bundle', `${TD}=${pki.dir}/bundle.pem`, '--role', 'peer'])).code, 2);
    assert.equal((await cli([...base, '--bundle', `Example.org=${pki.dir}/bundle.pem`])).code, 2);
    assert.equal((await cli(['identity', 'verify', '--chain', `${pki.dir}/good.chain.pem`])).code, 2, 'no --bundle');
  });
  test('the real binary: accepted and rejected', () => {
    const bin = new URL('../../bin/tendril.js', import.meta.url).pathname;
    const ok = spawnSync(process.execPath, [bin, 'identity', 'verify', '--bundle', `${TD}=${pki.dir}/bundle.pem`, '--chain', `${pki.dir}/good.chain.der`], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).spiffeId, ID);
    const bad = spawnSync(process.execPath, [bin, 'identity', 'verify', '--bundle', `${TD}=${pki.dir}/bundle.pem`, '--chain', `${pki.dir}/good.chain.der`, '--expect', `spiffe://${TD}/x`], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^rejected: ID_MISMATCH: /);
  });
});

test('docs/identity.md documents every rejection code', () => {
  const doc = readFileSync(new URL('../../docs/identity.md', import.meta.url), 'utf8');
  for (const code of Object.keys(REJECTIONS)) assert.match(doc, new RegExp(`\\| \`${code}\` \\|`), code);
});
