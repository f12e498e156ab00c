/**
 * The certificate fields SVID verification needs and Node's X509Certificate does not expose
 * (docs/identity.md "What is verified"): URI SANs as a list, KeyUsage bits and criticality,
 * BasicConstraints cA and pathLenConstraint, ExtendedKeyUsage OIDs, name constraints. Read
 * with @peculiar/x509 (an ASN.1 library), never from Node's display strings.
 */
import { createRequire } from 'node:module';
import type * as PX from '@peculiar/x509';
import type { X509Certificate } from 'node:crypto';

let loaded: typeof PX | undefined;

/** @peculiar/x509 (with its reflect-metadata polyfill), loaded on first use: it costs ~0.5 s at import. */
function px(): typeof PX {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    require('reflect-metadata');
    loaded = require('@peculiar/x509') as typeof PX;
  }
  return loaded;
}

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const NAME_CONSTRAINTS = '2.5.29.30';

/** KeyUsage bits as @peculiar/x509 numbers them (RFC 5280 bit n = 1 << n). */
export const KU = {
  digitalSignature: 1,
  keyCertSign: 32,
  cRLSign: 64,
} as const;

export interface CertFields {
  /** URI SANs in order; null when the SAN extension could not be decoded. */
  uris: readonly string[] | null;
  sanError?: string;
  /** BasicConstraints cA (false when the extension is absent). */
  ca: boolean;
  pathLength: number | undefined;
  /** KeyUsage bits, or null when the extension is absent. */
  keyUsage: { bits: number; critical: boolean } | null;
  /** EKU OIDs, or null when the extension is absent. */
  eku: readonly string[] | null;
  hasNameConstraints: boolean;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Decoded fields by certificate fingerprint: ASN.1 decoding costs milliseconds per certificate,
 * and the same SVIDs, intermediates and roots are presented again and again until they rotate.
 */
const CACHE_MAX = 4096;
const cache = new Map<string, CertFields>();

export function readFields(cert: X509Certificate): CertFields {
  const key = cert.fingerprint256;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const fields = decodeFields(cert);
  cache.set(key, fields);
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value as string);
  return fields;
}

function decodeFields(cert: X509Certificate): CertFields {
  const lib = px();
  const p = new lib.X509Certificate(cert.raw);
  let uris: string[] | null = [];
  let sanError: string | undefined;
  try {
    const san = p.getExtension(lib.SubjectAlternativeNameExtension);
    uris = san ? san.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [];
  } catch (err) {
    uris = null;
    sanError = (err as Error).message;
  }
  const bc = p.getExtension(lib.BasicConstraintsExtension);
  const ku = p.getExtension(lib.KeyUsagesExtension);
  const eku = p.getExtension(lib.ExtendedKeyUsageExtension);
  return Object.freeze({
    uris,
    ...(sanError !== undefined ? { sanError } : {}),
    ca: bc?.ca ?? false,
    pathLength: bc?.pathLength,
    keyUsage: ku ? { bits: ku.usages, critical: ku.critical } : null,
    eku: eku ? eku.usages.map((u) => String(u)) : null,
    hasNameConstraints: p.getExtension(NAME_CONSTRAINTS) !== null,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
  });
}
