/**
 * WireGuard node keys: Curve25519 (X25519) key pairs made with node:crypto, in the encodings
 * WireGuard uses (base64 in files and annotations, hex on the UAPI socket; docs/wireguard.md).
 *
 * A PrivateKey never renders its bytes by accident: JSON.stringify, util.inspect, template
 * strings and pino all see `[redacted]`. Only `uapiHex()` (the device configuration) and
 * `fileText()` (the 0600 key file) read the secret.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410): the raw 32 bytes follow it. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const REDACTED = '[redacted]';

/** A WireGuard public key: 32 bytes, written as base64 (44 characters). */
export type PublicKey = string;

export class PrivateKey {
  readonly #raw: Buffer;
  readonly publicKey: PublicKey;

  private constructor(raw: Buffer) {
    this.#raw = Buffer.from(raw);
    const der = Buffer.concat([PKCS8_X25519_PREFIX, this.#raw]);
    const pub = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
    this.publicKey = Buffer.from(pub.x as string, 'base64url').toString('base64');
  }

  /** A fresh key, clamped the way `wg genkey` clamps it. */
  static generate(): PrivateKey {
    const { privateKey } = generateKeyPairSync('x25519');
    const d = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
    d[0]! &= 248;
    d[31]! &= 127;
    d[31]! |= 64;
    return new PrivateKey(d);
  }

  /** From the 32 raw bytes; null when the length is wrong. */
  static fromRaw(raw: Buffer): PrivateKey | null {
    return raw.length === 32 ? new PrivateKey(raw) : null;
  }

  /** From base64 text (a key file or `wg genkey` output); null when it is not a 32-byte key. */
  static fromBase64(text: string): PrivateKey | null {
    const raw = decodeKey(text);
    return raw ? new PrivateKey(raw) : null;
  }

  /** Hex, as wireguard-go's UAPI `private_key=` wants it. */
  uapiHex(): string {
    return this.#raw.toString('hex');
  }

  /** The key file's content (base64 and a newline, like `wg genkey`). */
  fileText(): string {
    return `${this.#raw.toString('base64')}\n`;
  }

  equals(other: PrivateKey): boolean {
    return other.publicKey === this.publicKey;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `PrivateKey(${REDACTED}, public ${this.publicKey})`;
  }
}

/** Decodes a base64 WireGuard key (44 characters, 32 bytes); null when it is anything else. */
export function decodeKey(text: string): Buffer | null {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(t)) return null;
  const raw = Buffer.from(t, 'base64');
  return raw.length === 32 ? raw : null;
}

/** True for a well-formed base64 public key. */
export function isPublicKey(text: unknown): text is PublicKey {
  return typeof text === 'string' && decodeKey(text) !== null;
}

export function publicKeyToHex(key: PublicKey): string {
  const raw = decodeKey(key);
  if (!raw) throw new TypeError('not a WireGuard public key');
  return raw.toString('hex');
}

export function publicKeyFromHex(hex: string): PublicKey | null {
  return /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex').toString('base64') : null;
}
