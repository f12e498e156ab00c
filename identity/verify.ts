/**
 * X.509-SVID verification (docs/identity.md "What is verified"), in this order:
 *   1. the presented chain is not empty (and the key, when given, belongs to the leaf);
 *   2. path validation against the union of all bundle roots: dates, issuer links, signatures,
 *      cA and keyCertSign on signers, pathLenConstraint, no name constraints;
 *   3. the leaf's X509-SVID rules: exactly one URI SAN holding a SPIFFE ID with a path, cA
 *      false, KeyUsage present, critical, with digitalSignature and without keyCertSign and
 *      cRLSign, EKU (when present) with serverAuth and clientAuth;
 *   4. the chain ends in a root of the bundle of the leaf's own trust domain;
 *   5. the ID equals the expected one.
 * OpenSSL does step 2 in a TLS handshake too; this module repeats it so that the offline
 * command (`tendril identity verify`) and the tunnel decide by the same code.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { parseSpiffeId, SpiffeIdError } from './spiffe-id.js';
import { readFields, KU, EKU_CLIENT_AUTH, EKU_SERVER_AUTH, type CertFields } from './x509-fields.js';
import { REJECTIONS, type RejectionCode } from './rejections.js';

/** Trust domain (bare name) → root certificates. */
export type Bundles = ReadonlyMap<string, readonly X509Certificate[]>;

export interface VerifyInput {
  /** Leaf first, then the intermediates the peer presented. */
  chain: readonly X509Certificate[];
  bundles: Bundles;
  /** Which end presented the chain (selects the EKU purpose); default client. */
  role?: 'client' | 'server';
  /** Verification time; default now. */
  at?: Date;
  /** The exact SPIFFE ID required. */
  expect?: string;
  /** A private key that must match the leaf. */
  key?: KeyObject;
}

export interface Verified {
  ok: true;
  spiffeId: string;
  trustDomain: string;
  path: string;
  notAfter: Date;
}

export interface Rejected {
  ok: false;
  code: RejectionCode;
  reason: string;
}

export type VerifyResult = Verified | Rejected;

function reject(code: RejectionCode, detail?: string): Rejected {
  return { ok: false, code, reason: detail ? `${REJECTIONS[code]}: ${detail}` : REJECTIONS[code] };
}

function label(cert: X509Certificate, i: number): string {
  return `${i === 0 ? 'leaf' : `certificate ${i + 1}`} (${cert.subject.replace(/\n/g, ', ')})`;
}

function checkDates(f: CertFields, at: Date, what: string): Rejected | null {
  if (at.getTime() < f.notBefore.getTime()) return reject('NOT_YET_VALID', `${what} is valid from ${f.notBefore.toISOString()}`);
  if (at.getTime() > f.notAfter.getTime()) return reject('EXPIRED', `${what} expired at ${f.notAfter.toISOString()}`);
  return null;
}

/** Signer rules for a CA certificate that has `below` non-leaf CAs under it in the path. */
function checkSigner(f: CertFields, below: number, what: string): Rejected | null {
  if (!f.ca) return reject('SIGNER_NOT_CA', what);
  if (f.keyUsage && (f.keyUsage.bits & KU.keyCertSign) === 0) return reject('SIGNER_NO_KEY_CERT_SIGN', what);
  if (f.pathLength !== undefined && below > f.pathLength) {
    return reject('PATH_LENGTH_EXCEEDED', `${what} allows ${f.pathLength} intermediate(s) below it, the path has ${below}`);
  }
  if (f.uris && f.uris.length > 0) {
    for (const uri of f.uris) {
      try {
        if (parseSpiffeId(uri).path !== '') return reject('SIGNER_ID_HAS_PATH', `${what}: ${uri}`);
      } catch {
        /* a non-SPIFFE URI on a signer is not ours to judge */
      }
    }
  }
  return null;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The root among `roots` that anchors `top` (is it, or issued it), or null. */
function findAnchor(top: X509Certificate, roots: readonly X509Certificate[]): X509Certificate | null {
  for (const r of roots) if (r.raw.equals(top.raw)) return r;
  for (const r of roots) if (issuedBy(top, r)) return r;
  return null;
}

export function verifySvid(input: VerifyInput): VerifyResult {
  const at = input.at ?? new Date();
  const role = input.role ?? 'client';
  const chain = input.chain;
  // 1. The presented chain.
  if (chain.length === 0) return reject('CHAIN_EMPTY');
  const leaf = chain[0]!;
  if (input.key) {
    let matches = false;
    try {
      matches = leaf.checkPrivateKey(input.key);
    } catch {
      matches = false;
    }
    if (!matches) return reject('KEY_MISMATCH');
  }
  const fields = chain.map((c) => readFields(c));

  // 2. Path validation against the union of roots.
  for (let i = 0; i < chain.length; i++) {
    const bad = checkDates(fields[i]!, at, label(chain[i]!, i));
    if (bad) return bad;
    if (fields[i]!.hasNameConstraints) return reject('NAME_CONSTRAINTS_UNSUPPORTED', label(chain[i]!, i));
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i]!;
    const issuer = chain[i + 1]!;
    if (cert.issuer !== issuer.subject) return reject('CHAIN_BROKEN', `${label(cert, i)} names issuer ${cert.issuer.replace(/\n/g, ', ')}, the next certificate is ${label(issuer, i + 1)}`);
    let sigOk = false;
    try {
      sigOk = cert.verify(issuer.publicKey);
    } catch {
      sigOk = false;
    }
    if (!sigOk) return reject('BAD_SIGNATURE', `${label(cert, i)} signed by ${label(issuer, i + 1)}`);
    const bad = checkSigner(fields[i + 1]!, i, label(issuer, i + 1));
    if (bad) return bad;
    // Key identifiers (authority vs subject key id), as OpenSSL links them.
    if (!cert.checkIssued(issuer)) return reject('CHAIN_BROKEN', `${label(cert, i)}: key identifiers do not link to ${label(issuer, i + 1)}`);
  }
  const allRoots = [...input.bundles.values()].flat();
  const top = chain[chain.length - 1]!;
  const anchor = findAnchor(top, allRoots);
  if (!anchor) return reject('UNTRUSTED_CHAIN', `${label(top, chain.length - 1)} is not issued by any of ${allRoots.length} bundle root(s)`);
  if (!anchor.raw.equals(top.raw)) {
    const rf = readFields(anchor);
    const bad = checkDates(rf, at, `root (${anchor.subject.replace(/\n/g, ', ')})`) ?? checkSigner(rf, chain.length - 1, `root (${anchor.subject.replace(/\n/g, ', ')})`);
    if (bad) return bad;
  }

  // 3. Leaf rules.
  const lf = fields[0]!;
  if (lf.uris === null) return reject('BAD_SAN', lf.sanError);
  if (lf.uris.length === 0) return reject('NO_URI_SAN');
  if (lf.uris.length > 1) return reject('MULTIPLE_URI_SANS', lf.uris.join(', '));
  let id;
  try {
    id = parseSpiffeId(lf.uris[0]!);
  } catch (err) {
    return reject('INVALID_SPIFFE_ID', `${JSON.stringify(lf.uris[0])}: ${(err as SpiffeIdError).message}`);
  }
  if (id.path === '') return reject('ID_HAS_NO_PATH', id.id);
  if (lf.ca) return reject('LEAF_IS_CA');
  if (lf.keyUsage && (lf.keyUsage.bits & KU.keyCertSign) !== 0) return reject('LEAF_KEY_CERT_SIGN');
  if (lf.keyUsage && (lf.keyUsage.bits & KU.cRLSign) !== 0) return reject('LEAF_CRL_SIGN');
  if (!lf.keyUsage) return reject('NO_KEY_USAGE');
  if (!lf.keyUsage.critical) return reject('KEY_USAGE_NOT_CRITICAL');
  if ((lf.keyUsage.bits & KU.digitalSignature) === 0) return reject('NO_DIGITAL_SIGNATURE');
  if (lf.eku) {
    const want = role === 'client' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
    const other = role === 'client' ? EKU_SERVER_AUTH : EKU_CLIENT_AUTH;
    if (!lf.eku.includes(want)) return reject('EKU_WRONG_ROLE', `presented as ${role}, EKU is [${lf.eku.join(', ')}]`);
    if (!lf.eku.includes(other)) return reject('EKU_INCOMPLETE', `EKU is [${lf.eku.join(', ')}]`);
  }

  // 4. The anchor must be in the leaf's own trust domain's bundle.
  const own = input.bundles.get(id.trustDomain);
  if (!own || own.length === 0) return reject('UNKNOWN_TRUST_DOMAIN', id.trustDomain);
  if (!findAnchor(top, own)) {
    let other = '';
    for (const [td, roots] of input.bundles) if (roots.includes(anchor)) other = td;
    return reject('WRONG_TRUST_DOMAIN', `${id.id} chains to a root of ${other || 'another trust domain'}`);
  }

  // 5. Authorisation.
  if (input.expect !== undefined && input.expect !== id.id) return reject('ID_MISMATCH', `got ${id.id}, expected ${input.expect}`);
  return { ok: true, spiffeId: id.id, trustDomain: id.trustDomain, path: id.path, notAfter: lf.notAfter };
}
