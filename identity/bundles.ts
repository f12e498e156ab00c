/** Trust bundle maps as SPIFFE APIs send them: keys `spiffe://td` or `td`, values concatenated DER roots. */
import { X509Certificate } from 'node:crypto';
import { splitDer } from './encoding.js';
import { normalizeTrustDomain } from './spiffe-id.js';

/** Decodes a bundle map; throws on a bad key or bad DER (the caller discards the message). */
export function decodeBundles(map: Record<string, Buffer>): Map<string, X509Certificate[]> {
  const out = new Map<string, X509Certificate[]>();
  for (const [key, der] of Object.entries(map)) {
    const td = normalizeTrustDomain(key);
    const certs = splitDer(der).map((d) => new X509Certificate(d));
    if (certs.length === 0) throw new Error(`bundle of ${td} is empty`);
    out.set(td, [...(out.get(td) ?? []), ...certs]);
  }
  return out;
}
