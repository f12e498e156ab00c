import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import { KeyStore, PrivateKey, isPublicKey } from '../../wireguard/index.js';
import { TendrilError } from '../../core/index.js';
import { createLogger } from '../../agent/logger.js';
import { findOnPath } from '../../wireguard/support.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tendril-wgkeys-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('generated keys are X25519 pairs in WireGuard encoding, agreeing with `wg pubkey`', (t) => {
  const k = PrivateKey.generate();
  assert.ok(isPublicKey(k.publicKey));
  const b64 = k.fileText().trim();
  const raw = Buffer.from(b64, 'base64');
  assert.equal(raw.length, 32);
  assert.equal(raw[0]! & 7, 0, 'clamped low bits');
  assert.equal(raw[31]! & 0xc0, 0x40, 'clamped high bits');
  assert.equal(k.uapiHex(), raw.toString('hex'));
  assert.equal(PrivateKey.fromBase64(b64)!.publicKey, k.publicKey);
  assert.notEqual(PrivateKey.generate().publicKey, k.publicKey);
  if (!findOnPath('wg')) return t.skip('wireguard-tools (wg) not installed: cross-check skipped');
  assert.equal(execFileSync('wg', ['pubkey'], { input: `${b64}\n`, encoding: 'utf8' }).trim(), k.publicKey);
  const theirs = execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
  assert.equal(PrivateKey.fromBase64(theirs)!.publicKey, execFileSync('wg', ['pubkey'], { input: `${theirs}\n`, encoding: 'utf8' }).trim());
});

test('a private key never renders: JSON, inspect, template strings, pino', () => {
  const k = PrivateKey.generate();
  const secret = k.fileText().trim();
  const hex = k.uapiHex();
  const lines: string[] = [];
  const log = createLogger({ level: 'info', pretty: 'never' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  log.info({ key: k, privateKey: secret, wg: { private_key: hex } }, `key ${k}`);
  const rendered = [JSON.stringify({ k }), inspect(k), `${k}`, String(k), ...lines].join('\n');
  assert.ok(!rendered.includes(secret), rendered);
  assert.ok(!rendered.includes(hex), rendered);
  assert.ok(rendered.includes(k.publicKey), 'the public key stays visible');
});

test('the key store persists 0600 in a 0700 folder and reloads the same key', (t) => {
  const dir = join(tmp(t), 'wg');
  const s = new KeyStore(dir);
  const a = s.loadOrCreate();
  assert.equal(a.created, true);
  assert.equal(statSync(s.privatePath).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(readFileSync(s.publicPath, 'utf8').trim(), a.key.publicKey);
  const b = new KeyStore(dir).loadOrCreate();
  assert.equal(b.created, false);
  assert.equal(b.key.publicKey, a.key.publicKey);
  const next = PrivateKey.generate();
  s.save(next);
  assert.equal(new KeyStore(dir).load()!.publicKey, next.publicKey);
  assert.equal(statSync(s.privatePath).mode & 0o777, 0o600);
});

const bad: Array<[string, string | Buffer, number, RegExp]> = [
  ['not base64', 'this is not a key at all, sorry\n', 0o600, /is not a WireGuard private key/],
  ['31 bytes', `${Buffer.alloc(31, 7).toString('base64')}\n`, 0o600, /is not a WireGuard private key/],
  ['33 bytes', `${Buffer.alloc(33, 7).toString('base64')}\n`, 0o600, /is not a WireGuard private key/],
  ['two keys', `${PrivateKey.generate().fileText()}${PrivateKey.generate().fileText()}`, 0o600, /is not a WireGuard private key/],
  ['binary', Buffer.from([0, 1, 2, 255, 254]), 0o600, /is not a WireGuard private key/],
  ['empty', '', 0o600, /is not a WireGuard private key/],
  ['readable by others', PrivateKey.generate().fileText(), 0o644, /permissions 0644 are too open/],
  ['readable by group', PrivateKey.generate().fileText(), 0o640, /permissions 0640 are too open/],
];
for (const [name, content, mode, re] of bad) {
  test(`a key file that is ${name} is refused with its path named and its content not echoed`, (t) => {
    const dir = tmp(t);
    const s = new KeyStore(dir);
    writeFileSync(s.privatePath, content);
    chmodSync(s.privatePath, mode);
    let err: unknown;
    try {
      s.loadOrCreate();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof TendrilError, String(err));
    assert.equal(err.code, 'TND_WIREGUARD_KEY');
    assert.match(err.message, re);
    assert.ok(err.message.startsWith(`${s.privatePath}: `), err.message);
    const text = String(content).trim();
    if (text.length > 8) assert.ok(!err.message.includes(text.slice(0, 20)) && !JSON.stringify(err.context).includes(text.slice(0, 20)));
    // Nothing was replaced: the bad file is still there for the operator to look at.
    assert.deepEqual(readFileSync(s.privatePath), Buffer.from(content));
  });
}
