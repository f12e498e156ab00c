/**
 * TLS material for the node-to-node tunnel (docs/identity.md "The tunnel"): the SNI naming a
 * destination identity, SecureContexts cached per (SVID serial, bundle version), and the peer
 * chain as presented. TLS 1.3 only, ALPN h2, no session tickets.
 */
import { createHash, constants, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { certificatesToPem, type Svid, type SvidStore } from '../../identity/index.js';

export const TUNNEL_SUFFIX = '.hbone.tendril';

/** SNI for a destination SPIFFE ID: opaque (SNI travels in clear), mapped back by the server. */
export function sniFor(spiffeId: string): string {
  return `${createHash('sha256').update(spiffeId).digest('hex').slice(0, 32)}${TUNNEL_SUFFIX}`;
}

export const TLS_BASE = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ALPNProtocols: ['h2'],
  ciphers: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256',
} as const;

/** All roots of all trust domains, PEM (OpenSSL's part; the per-domain anchor check is ours). */
export function rootsPem(store: SvidStore): string {
  return certificatesToPem([...store.bundles.values()].flat());
}

/** SecureContexts per SVID, rebuilt when the SVID rotates or the bundles change. */
export class ContextCache {
  private readonly cache = new Map<string, tls.SecureContext>();

  constructor(private readonly store: SvidStore) {}

  get(svid: Svid): tls.SecureContext {
    const key = `${svid.spiffeId}\u0000${svid.serial}\u0000${this.store.bundleVersion}`;
    let ctx = this.cache.get(key);
    if (!ctx) {
      for (const k of this.cache.keys()) if (k.startsWith(`${svid.spiffeId}\u0000`)) this.cache.delete(k);
      ctx = tls.createSecureContext({
        ...TLS_BASE,
        cert: svid.certPem,
        key: svid.keyPem,
        ca: rootsPem(this.store),
        secureOptions: constants.SSL_OP_NO_TICKET,
      });
      this.cache.set(key, ctx);
    }
    return ctx;
  }
}

/** The chain a TLS peer presented, leaf first (the trust anchor is not included by Node). */
export function presentedChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c = socket.getPeerX509Certificate();
  const seen = new Set<string>();
  while (c && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c);
    c = c.issuerCertificate;
  }
  return out;
}
