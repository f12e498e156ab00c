/**
 * Certificate and key encodings as SPIFFE sources hand them over (docs/identity.md
 * "Encodings"): PEM with one or more blocks, one DER certificate, or DER certificates
 * concatenated back to back (the Workload API's `x509_svid` and `bundle` fields). Node's
 * X509Certificate parses only the first of concatenated certificates, so the chain is split
 * here by walking the outer DER lengths; anything after the last certificate is an error.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

export class EncodingError extends Error {
  override name = 'EncodingError';
}

/** Splits concatenated DER certificates (each an outer SEQUENCE with a definite length). */
export function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== 0x30) throw new EncodingError(`byte ${off}: expected a DER SEQUENCE (0x30), found 0x${buf[off]!.toString(16).padStart(2, '0')}`);
    if (off + 2 > buf.length) throw new EncodingError(`byte ${off}: truncated DER length`);
    const first = buf[off + 1]!;
    let len: number;
    let hdr: number;
    if (first < 0x80) {
      len = first;
      hdr = 2;
    } else {
      const n = first & 0x7f;
      if (n === 0 || n > 4) throw new EncodingError(`byte ${off}: unsupported DER length form (${n === 0 ? 'indefinite' : `${n} length bytes`})`);
      if (off + 2 + n > buf.length) throw new EncodingError(`byte ${off}: truncated DER length`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i]!;
      hdr = 2 + n;
    }
    const end = off + hdr + len;
    if (end > buf.length) throw new EncodingError(`byte ${off}: certificate declares ${len} bytes but only ${buf.length - off - hdr} remain`);
    out.push(buf.subarray(off, end));
    off = end;
  }
  return out;
}

function isPem(buf: Buffer): boolean {
  return buf.subarray(0, Math.min(buf.length, 4096)).toString('latin1').includes('-----BEGIN ');
}

function pemBlocks(text: string): { label: string; der: Buffer }[] {
  const out: { label: string; der: Buffer }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new EncodingError(`PEM block ${m[1]} is not base64`);
    out.push({ label: m[1]!, der: Buffer.from(body, 'base64') });
  }
  return out;
}

/** Certificates from PEM (CERTIFICATE blocks, in order) or (concatenated) DER. */
export function readCertificates(buf: Buffer): X509Certificate[] {
  let ders: Buffer[];
  if (isPem(buf)) {
    const blocks = pemBlocks(buf.toString('latin1'));
    ders = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
    if (ders.length === 0) throw new EncodingError('no CERTIFICATE block in the PEM text');
  } else {
    ders = splitDer(buf);
  }
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (err) {
      throw new EncodingError(`certificate ${i + 1}: ${(err as Error).message}`);
    }
  });
}

/** A PKCS#8 private key from PEM or DER. */
export function readPrivateKey(buf: Buffer): KeyObject {
  try {
    if (isPem(buf)) return createPrivateKey({ key: buf, format: 'pem' });
    return createPrivateKey({ key: buf, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new EncodingError(`not a PKCS#8 private key: ${(err as Error).message}`);
  }
}

/** PEM text of certificates (what tls.createSecureContext accepts; it ignores DER in `ca`). */
export function certificatesToPem(certs: readonly X509Certificate[]): string {
  return certs.map((c) => c.toString()).join('');
}

/** PEM text of a PKCS#8 key given as DER. */
export function pkcs8DerToPem(der: Buffer): string {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
}
