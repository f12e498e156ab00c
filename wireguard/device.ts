/**
 * The WireGuard device, userspace backend: a wireguard-go process (`-f`, so this process owns
 * its pid) in the agent's network namespace, configured only through its UAPI socket. Link state,
 * MTU and pod-CIDR routes go through iproute2 (`ip`), never through `wg`. `netnsPath` runs the
 * device inside another network namespace (the tests' "nodes").
 *
 * Lifecycle facts (docs/wireguard.md): SIGTERM removes the socket and the tun device; a SIGKILLed
 * wireguard-go leaves a stale socket that answers ECONNREFUSED, removed here before starting.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { TendrilError } from '../core/index.js';
import { UAPI_DIR, uapiGet, uapiSet, uapiSocketPath, type DeviceChange, type DeviceState } from './uapi.js';

export interface DeviceOptions {
  ifname: string;
  /** Run the device in this network namespace (`/run/netns/<name>`); default: the agent's own. */
  netnsPath?: string;
  /** wireguard-go binary (default: `wireguard-go` on PATH). */
  wireguardGo?: string;
  mtu?: number;
  log: Logger;
}

export class UserspaceDevice {
  readonly ifname: string;
  readonly socketPath: string;
  private child: ChildProcess | null = null;
  /** True when start() took over a device a previous agent left running. */
  adopted = false;
  private exited: Promise<void> | null = null;

  constructor(private readonly opts: DeviceOptions) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(opts.ifname)) {
      throw new TendrilError('TND_CONFIG_INVALID', `encryption.wireguard.interface: "${opts.ifname}" is not a valid interface name (1-15 of [A-Za-z0-9_.-])`, { field: 'encryption.wireguard.interface' });
    }
    this.ifname = opts.ifname;
    this.socketPath = uapiSocketPath(opts.ifname, UAPI_DIR);
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Starts wireguard-go (after clearing a stale socket) and brings the link up. */
  async start(): Promise<void> {
    if (existsSync(this.socketPath)) {
      if (await answers(this.socketPath)) {
        // A device of this name survived the previous agent (killed without stopping it): take it
        // over instead of cutting traffic; the caller reconfigures it completely.
        this.adopted = true;
        await this.ip(['link', 'set', 'dev', this.ifname, 'mtu', String(this.opts.mtu ?? 1420), 'up']);
        this.opts.log.warn({ interface: this.ifname }, 'adopting a running WireGuard device left by a previous agent');
        return;
      }
      unlinkSync(this.socketPath);
    }
    const bin = this.opts.wireguardGo ?? 'wireguard-go';
    const [cmd, args] = this.opts.netnsPath ? ['nsenter', [`--net=${this.opts.netnsPath}`, '--', bin, '-f', this.ifname]] : [bin, ['-f', this.ifname]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'error' } });
    this.child = child;
    let output = '';
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = null;
        this.opts.log.warn({ interface: this.ifname, code, signal }, 'wireguard-go exited');
      }
    });
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.socketPath))) {
      if (this.child !== child) throw new TendrilError('TND_WIREGUARD_CONFIG', `wireguard-go for ${this.ifname} exited at start: ${output.trim().split('\n').slice(-3).join(' | ')}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new TendrilError('TND_WIREGUARD_CONFIG', `wireguard-go for ${this.ifname}: UAPI socket ${this.socketPath} did not appear within 10 s`);
      }
      await sleep(20);
    }
    await this.ip(['link', 'set', 'dev', this.ifname, 'mtu', String(this.opts.mtu ?? 1420), 'up']);
    this.opts.log.info({ interface: this.ifname, pid: child.pid, backend: 'wireguard-go' }, 'WireGuard device up');
  }

  get(): Promise<DeviceState> {
    return uapiGet(this.socketPath);
  }

  set(change: DeviceChange): Promise<void> {
    return uapiSet(this.socketPath, change);
  }

  /** IPv4/IPv6 prefixes routed through the device (read from the kernel). */
  async routes(): Promise<string[]> {
    const out = await this.ip(['-j', 'route', 'show', 'dev', this.ifname]);
    const v6 = await this.ip(['-6', '-j', 'route', 'show', 'dev', this.ifname]).catch(() => '[]');
    const parse = (s: string): string[] => {
      const rows = JSON.parse(s || '[]') as Array<{ dst?: string; protocol?: string }>;
      // Routes the kernel derives from an address on the device are not ours to manage.
      return rows.filter((r) => r.protocol !== 'kernel').map((r) => r.dst ?? '').filter((d) => d && d !== 'default' && !d.startsWith('fe80:'));
    };
    return [...parse(out), ...parse(v6)].map((d) => (d.includes('/') ? d : d.includes(':') ? `${d}/128` : `${d}/32`));
  }

  async addRoute(cidr: string): Promise<void> {
    await this.ip([...(cidr.includes(':') ? ['-6'] : []), 'route', 'replace', cidr, 'dev', this.ifname]);
  }

  async delRoute(cidr: string): Promise<void> {
    await this.ip([...(cidr.includes(':') ? ['-6'] : []), 'route', 'del', cidr, 'dev', this.ifname]);
  }

  /** Interface counters and state from the kernel (what the tun device saw). */
  async link(): Promise<{ up: boolean; mtu: number } | null> {
    try {
      const rows = JSON.parse(await this.ip(['-j', 'link', 'show', 'dev', this.ifname])) as Array<{ flags?: string[]; mtu?: number }>;
      const r = rows[0];
      return r ? { up: (r.flags ?? []).includes('UP'), mtu: r.mtu ?? 0 } : null;
    } catch {
      return null;
    }
  }

  /** Stops wireguard-go (SIGTERM, then SIGKILL after 3 s) and removes a stale socket. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (this.adopted) {
      // Not our child: deleting the tun device makes wireguard-go exit and remove its socket.
      this.adopted = false;
      await this.ip(['link', 'del', 'dev', this.ifname]).catch(() => undefined);
      const deadline = Date.now() + 5000;
      while ((await answers(this.socketPath)) && Date.now() < deadline) await sleep(20);
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(t);
    }
    if (existsSync(this.socketPath) && !(await answers(this.socketPath))) {
      try {
        unlinkSync(this.socketPath);
      } catch {
        // already gone
      }
    }
    this.opts.log.info({ interface: this.ifname }, 'WireGuard device stopped');
  }

  private ip(args: string[]): Promise<string> {
    const [cmd, full] = this.opts.netnsPath ? ['nsenter', [`--net=${this.opts.netnsPath}`, '--', 'ip', ...args]] : ['ip', args];
    return new Promise((resolve, reject) => {
      execFile(cmd, full, { timeout: 10_000 }, (err, stdout, stderr) => {
        if (err) reject(new TendrilError('TND_WIREGUARD_CONFIG', `ip ${args.join(' ')}: ${stderr.trim() || err.message}`, { interface: this.ifname }));
        else resolve(stdout);
      });
    });
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
