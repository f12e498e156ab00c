/**
 * An X.509-SVID held for a workload (chain, key, PEM forms for TLS) and the checks applied to
 * every SVID a SPIFFE source delivers (docs/identity.md "Client behaviour"): a non-empty chain,
 * a PKCS#8 key that matches the leaf, and a leaf whose single URI SAN equals the announced ID.
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { splitDer, certificatesToPem } from './encoding.js';
import { parseSpiffeId } from './spiffe-id.js';
import { readFields } from './x509-fields.js';

export interface Svid {
  spiffeId: string;
  trustDomain: string;
  /** Leaf first. */
  chain: X509Certificate[];
  key: KeyObject;
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
  /** Leaf serial number (hex). */
  serial: string;
  hint: string;
}

export class SvidError extends Error {
  override name = 'SvidError';
}

/** Builds an Svid from wire fields; throws SvidError when any check fails. */
export function makeSvid(spiffeId: string, chainDer: Buffer | Buffer[], keyDer: Buffer, hint = ''): Svid {
  let id;
  try {
    id = parseSpiffeId(spiffeId);
  } catch (err) {
    throw new SvidError(`spiffe_id ${JSON.stringify(spiffeId)}: ${(err as Error).message}`);
  }
  let chain: X509Certificate[];
  try {
    const ders = Array.isArray(chainDer) ? chainDer.flatMap((d) => splitDer(d)) : splitDer(chainDer);
    chain = ders.map((d) => new NodeX509(d));
  } catch (err) {
    throw new SvidError(`${spiffeId}: certificate chain: ${(err as Error).message}`);
  }
  if (chain.length === 0) throw new SvidError(`${spiffeId}: empty certificate chain`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new SvidError(`${spiffeId}: private key is not PKCS#8 DER: ${(err as Error).message}`);
  }
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) throw new SvidError(`${spiffeId}: private key does not match the leaf certificate`);
  const f = readFields(leaf);
  if (!f.uris || f.uris.length !== 1 || f.uris[0] !== spiffeId) {
    throw new SvidError(`${spiffeId}: leaf URI SAN is ${JSON.stringify(f.uris)}, not the announced ID`);
  }
  return {
    spiffeId,
    trustDomain: id.trustDomain,
    chain,
    key,
    certPem: certificatesToPem(chain),
    keyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    serial: leaf.serialNumber,
    hint,
  };
}
