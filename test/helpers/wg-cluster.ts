/**
 * WireGuard "nodes" in network namespaces, for the privileged WireGuard tests and benchmark.
 *
 *   td<id>-ul        underlay router: td<id>r<i> 172.31.<i>.1/24, ip_forward=1
 *   td<id>-n<i>      node i: underlay td<id>u<i> 172.31.<i>.2/24 (default via .1),
 *                    pod side td<id>h<i> 10.200.<i>.1/24, ip_forward=1, IPv6 off;
 *                    the WireGuard device tdwg<id><i> runs here (wireguard-go, UAPI socket global)
 *   td<id>-p<i>      pod i: td<id>p<i> 10.200.<i>.2/24 via 10.200.<i>.1   (pod CIDR of node i: 10.200.<i>.0/24)
 *
 * Without the tunnel, node i sends pod traffic for other nodes to the underlay router, which has no
 * route for 10.200.0.0/16: leaks show up in the underlay capture instead of reaching the pod.
 * Teardown (also on process exit): stop the managers, kill what runs in our netns, delete them,
 * remove our UAPI sockets and state folders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destroyRunObjects, newRunId, registerRun, runLeftovers, sh, sweepStaleRuns, unregisterRun } from './netns.js';

export interface WgNode {
  index: number;
  name: string;
  ns: string;
  nsPath: string;
  podNs: string;
  podNsPath: string;
  underlayIf: string;
  address: string;
  podCIDR: string;
  podIp: string;
  wgIf: string;
  stateDir: string;
}

const live = new Set<WgCluster>();
let hooked = false;

export class WgCluster {
  readonly id = newRunId();
  readonly ulNs: string;
  readonly nodes = new Map<number, WgNode>();
  readonly stateRoot: string;
  private readonly hooks: Array<() => Promise<void> | void> = [];
  private readonly children = new Set<ChildProcess>();
  private done = false;

  constructor() {
    sweepStaleRuns();
    registerRun(this.id);
    live.add(this);
    if (!hooked) {
      hooked = true;
      process.once('exit', () => {
        for (const c of [...live]) c.teardownSync();
      });
    }
    this.ulNs = `td${this.id}-ul`;
    this.stateRoot = mkdtempSync(join(tmpdir(), `tendril-wg-${this.id}-`));
    try {
      sh('ip', ['netns', 'add', this.ulNs]);
      sh('ip', ['-n', this.ulNs, 'link', 'set', 'lo', 'up']);
      sh('nsenter', [`--net=/run/netns/${this.ulNs}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    } catch (err) {
      this.teardownSync();
      throw err;
    }
  }

  /** Adds node i (1..9) with its pod. */
  addNode(i: number): WgNode {
    const n: WgNode = {
      index: i,
      name: `node${i}`,
      ns: `td${this.id}-n${i}`,
      nsPath: `/run/netns/td${this.id}-n${i}`,
      podNs: `td${this.id}-p${i}`,
      podNsPath: `/run/netns/td${this.id}-p${i}`,
      underlayIf: `td${this.id}u${i}`,
      address: `172.31.${i}.2`,
      podCIDR: `10.200.${i}.0/24`,
      podIp: `10.200.${i}.2`,
      wgIf: `tdwg${this.id}${i}`,
      stateDir: join(this.stateRoot, `node${i}`),
    };
    this.nodes.set(i, n);
    sh('ip', ['netns', 'add', n.ns]);
    sh('ip', ['netns', 'add', n.podNs]);
    for (const ns of [n.ns, n.podNs]) {
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('nsenter', [`--net=/run/netns/${ns}`, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    sh('nsenter', [`--net=${n.nsPath}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    const r = `td${this.id}r${i}`;
    sh('ip', ['link', 'add', n.underlayIf, 'netns', n.ns, 'type', 'veth', 'peer', 'name', r, 'netns', this.ulNs]);
    sh('ip', ['-n', n.ns, 'addr', 'add', `${n.address}/24`, 'dev', n.underlayIf]);
    sh('ip', ['-n', n.ns, 'link', 'set', n.underlayIf, 'up']);
    sh('ip', ['-n', this.ulNs, 'addr', 'add', `172.31.${i}.1/24`, 'dev', r]);
    sh('ip', ['-n', this.ulNs, 'link', 'set', r, 'up']);
    sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', `172.31.${i}.1`]);
    const p = `td${this.id}p${i}`;
    const h = `td${this.id}h${i}`;
    sh('ip', ['link', 'add', p, 'netns', n.podNs, 'type', 'veth', 'peer', 'name', h, 'netns', n.ns]);
    sh('ip', ['-n', n.podNs, 'addr', 'add', `${n.podIp}/24`, 'dev', p]);
    sh('ip', ['-n', n.podNs, 'link', 'set', p, 'up']);
    sh('ip', ['-n', n.podNs, 'route', 'add', 'default', 'via', `10.200.${i}.1`]);
    sh('ip', ['-n', n.ns, 'addr', 'add', `10.200.${i}.1/24`, 'dev', h]);
    sh('ip', ['-n', n.ns, 'link', 'set', h, 'up']);
    return n;
  }

  node(i: number): WgNode {
    const n = this.nodes.get(i);
    if (!n) throw new Error(`no node ${i}`);
    return n;
  }

  /** Spawns cmd inside a netns path; killed at teardown. */
  spawnIn(nsPath: string, cmd: string, args: string[]): ChildProcess {
    const c = spawn('nsenter', [`--net=${nsPath}`, '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  onTeardown(fn: () => Promise<void> | void): void {
    this.hooks.push(fn);
  }

  /** Async teardown: hooks (stop managers cleanly), then everything else. Returns problems. */
  async teardown(): Promise<string[]> {
    const problems: string[] = [];
    for (const h of this.hooks.splice(0).reverse()) {
      try {
        await h();
      } catch (err) {
        problems.push(`teardown hook: ${(err as Error).message}`);
      }
    }
    problems.push(...this.teardownSync());
    return problems;
  }

  teardownSync(): string[] {
    if (this.done) return [];
    this.done = true;
    const problems: string[] = [];
    for (const c of this.children) c.kill('SIGKILL');
    problems.push(...destroyRunObjects(this.id));
    const dir = '/var/run/wireguard';
    if (existsSync(dir)) {
      for (const f of readdirSync(dir)) {
        if (f.startsWith(`tdwg${this.id}`)) {
          try {
            unlinkSync(join(dir, f));
          } catch (err) {
            problems.push(`rm ${f}: ${(err as Error).message}`);
          }
        }
      }
    }
    rmSync(this.stateRoot, { recursive: true, force: true });
    const left = [...runLeftovers(this.id), ...wgLeftovers(this.id)];
    if (left.length) problems.push(`left behind: ${left.join(', ')}`);
    else unregisterRun(this.id);
    live.delete(this);
    return problems;
  }
}

/** wireguard-go processes and UAPI sockets of a run still present. */
export function wgLeftovers(id: string): string[] {
  const left: string[] = [];
  const dir = '/var/run/wireguard';
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.startsWith(`tdwg${id}`)) left.push(`socket ${dir}/${f}`);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('wireguard-go') && cmd.some((a) => a.startsWith(`tdwg${id}`))) left.push(`wireguard-go pid ${pid}`);
    } catch {
      // gone
    }
  }
  return left;
}
