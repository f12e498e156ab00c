/**
 * wireguard-go's cross-platform userspace API (UAPI): a unix socket per interface at
 * `/var/run/wireguard/<ifname>.sock` speaking `key=value` lines. `get=1` returns the device and
 * its peers (keys in hex), `set=1` applies a change; both end with `errno=N` and a blank line.
 * Protocol summary: docs/wireguard.md. A set request carries the private key, so neither the
 * request text nor any part of it ever goes into an error or a log line.
 */
import { createConnection } from 'node:net';
import { TendrilError } from '../core/index.js';
import { publicKeyFromHex, publicKeyToHex, type PrivateKey, type PublicKey } from './keys.js';

export const UAPI_DIR = '/var/run/wireguard';

export function uapiSocketPath(ifname: string, dir = UAPI_DIR): string {
  return `${dir}/${ifname}.sock`;
}

export interface DevicePeer {
  publicKey: PublicKey;
  endpoint: string | null;
  allowedIps: string[];
  /** Unix time of the last completed handshake in ms; null when there was none. */
  lastHandshakeMs: number | null;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number;
}

export interface DeviceState {
  /** The public half of the device's private key (the private key itself is dropped while parsing). */
  hasPrivateKey: boolean;
  listenPort: number;
  peers: DevicePeer[];
}

export interface PeerChange {
  publicKey: PublicKey;
  remove?: boolean;
  updateOnly?: boolean;
  endpoint?: string;
  replaceAllowedIps?: boolean;
  allowedIps?: string[];
  persistentKeepalive?: number;
}

export interface DeviceChange {
  privateKey?: PrivateKey;
  listenPort?: number;
  replacePeers?: boolean;
  peers?: PeerChange[];
}

/** The `set=1` request text for a change. */
export function setRequest(change: DeviceChange): string {
  const lines = ['set=1'];
  if (change.privateKey) lines.push(`private_key=${change.privateKey.uapiHex()}`);
  if (change.listenPort !== undefined) lines.push(`listen_port=${change.listenPort}`);
  if (change.replacePeers) lines.push('replace_peers=true');
  for (const p of change.peers ?? []) {
    lines.push(`public_key=${publicKeyToHex(p.publicKey)}`);
    if (p.remove) {
      lines.push('remove=true');
      continue;
    }
    if (p.updateOnly) lines.push('update_only=true');
    if (p.endpoint !== undefined) lines.push(`endpoint=${p.endpoint}`);
    if (p.persistentKeepalive !== undefined) lines.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    if (p.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const a of p.allowedIps ?? []) lines.push(`allowed_ip=${a}`);
  }
  return `${lines.join('\n')}\n\n`;
}

/** Parses a `get=1` answer (without trusting it: unknown keys are ignored, numbers checked). */
export function parseGet(text: string): DeviceState {
  const state: DeviceState = { hasPrivateKey: false, listenPort: 0, peers: [] };
  let peer: DevicePeer | null = null;
  let sec = 0;
  let nsec = 0;
  const finish = (): void => {
    if (peer) peer.lastHandshakeMs = sec === 0 && nsec === 0 ? null : sec * 1000 + Math.floor(nsec / 1e6);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    switch (k) {
      case 'private_key':
        state.hasPrivateKey = /^[0-9a-f]{64}$/.test(v) && !/^0{64}$/.test(v);
        break;
      case 'listen_port':
        state.listenPort = num(v);
        break;
      case 'public_key': {
        finish();
        const pk = publicKeyFromHex(v);
        if (!pk) throw new TendrilError('TND_WIREGUARD_CONFIG', 'UAPI get: a peer public key is not 64 hex digits');
        peer = { publicKey: pk, endpoint: null, allowedIps: [], lastHandshakeMs: null, rxBytes: 0, txBytes: 0, persistentKeepalive: 0 };
        sec = 0;
        nsec = 0;
        state.peers.push(peer);
        break;
      }
      case 'endpoint':
        if (peer) peer.endpoint = v;
        break;
      case 'allowed_ip':
        peer?.allowedIps.push(v);
        break;
      case 'last_handshake_time_sec':
        sec = num(v);
        break;
      case 'last_handshake_time_nsec':
        nsec = num(v);
        break;
      case 'rx_bytes':
        if (peer) peer.rxBytes = num(v);
        break;
      case 'tx_bytes':
        if (peer) peer.txBytes = num(v);
        break;
      case 'persistent_keepalive_interval':
        if (peer) peer.persistentKeepalive = num(v);
        break;
      default:
        break;
    }
  }
  finish();
  return state;
}

function num(v: string): number {
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** One UAPI round trip; resolves with the answer's lines before `errno=`; rejects on errno != 0. */
export function uapiCall(socketPath: string, request: string, what: 'get' | 'set', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = '';
    const fail = (msg: string, cause?: unknown): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(new TendrilError('TND_WIREGUARD_CONFIG', `UAPI ${what} on ${socketPath}: ${msg}`, { socket: socketPath }, cause ? { cause: new Error((cause as NodeJS.ErrnoException).code ?? 'error') } : undefined));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d: string) => {
      buf += d;
      const m = /(?:^|\n)errno=(-?\d+)\n\n/.exec(buf);
      if (!m) return;
      clearTimeout(timer);
      sock.end();
      const errno = Number(m[1]);
      if (errno !== 0) return fail(`errno=${errno} (the device refused the ${what})`);
      resolve(buf.slice(0, m.index));
    });
    sock.on('error', (err: NodeJS.ErrnoException) => fail(`${err.code ?? 'socket error'}`, err));
    sock.on('close', () => fail('socket closed before errno'));
  });
}

export async function uapiGet(socketPath: string): Promise<DeviceState> {
  return parseGet(await uapiCall(socketPath, 'get=1\n\n', 'get'));
}

export async function uapiSet(socketPath: string, change: DeviceChange): Promise<void> {
  await uapiCall(socketPath, setRequest(change), 'set');
}
