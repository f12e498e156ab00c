/**
 * The node key on disk: `<stateDir>/private.key` (base64, mode 0600, in a 0700 folder) and
 * `<stateDir>/public.key` (the published half). Loading refuses a key file that others can read
 * or that is not exactly one WireGuard key, naming the path and never echoing the content.
 * Writes are atomic (temporary file with 0600, fsync, rename), so a crash never leaves half a key.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { TendrilError } from '../core/index.js';
import { PrivateKey } from './keys.js';

export const PRIVATE_KEY_FILE = 'private.key';
export const PUBLIC_KEY_FILE = 'public.key';

export class KeyStore {
  readonly privatePath: string;
  readonly publicPath: string;

  constructor(readonly dir: string) {
    this.privatePath = join(dir, PRIVATE_KEY_FILE);
    this.publicPath = join(dir, PUBLIC_KEY_FILE);
  }

  /** The persisted key, or null when there is none yet. Throws TND_WIREGUARD_KEY when it is unusable. */
  load(): PrivateKey | null {
    let st;
    try {
      st = statSync(this.privatePath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw this.error(`cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
    }
    if (!st.isFile()) throw this.error('is not a regular file');
    if ((st.mode & 0o077) !== 0) {
      throw this.error(`permissions ${(st.mode & 0o777).toString(8).padStart(4, '0')} are too open (others may read the private key); expected 0600`);
    }
    let text: string;
    try {
      text = readFileSync(this.privatePath, 'utf8');
    } catch (err) {
      throw this.error(`cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
    }
    const key = PrivateKey.fromBase64(text);
    if (!key) throw this.error('is not a WireGuard private key (expected one base64 line of 32 bytes, as `wg genkey` writes)');
    return key;
  }

  /** The persisted key, or a new one saved first. */
  loadOrCreate(): { key: PrivateKey; created: boolean } {
    const existing = this.load();
    if (existing) {
      this.writePublic(existing);
      return { key: existing, created: false };
    }
    const key = PrivateKey.generate();
    this.save(key);
    return { key, created: true };
  }

  /** Persists key (replacing any previous one) and its public half. */
  save(key: PrivateKey): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    atomicWrite(this.privatePath, key.fileText(), 0o600);
    this.writePublic(key);
  }

  private writePublic(key: PrivateKey): void {
    atomicWrite(this.publicPath, `${key.publicKey}\n`, 0o644);
  }

  private error(what: string, cause?: unknown): TendrilError {
    return new TendrilError('TND_WIREGUARD_KEY', `${this.privatePath}: ${what}`, { file: this.privatePath, field: 'encryption.wireguard.stateDir' }, cause ? { cause: scrub(cause) } : undefined);
  }
}

/** Errors from fs carry only code and path; never let a message with file content through. */
function scrub(err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  return Object.assign(new Error(e.code ?? 'error'), { code: e.code, path: e.path });
}

function atomicWrite(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}
