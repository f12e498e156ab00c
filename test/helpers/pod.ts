/**
 * The pod fixture: "pods" as processes in their own network namespace AND a child cgroup, the way
 * the kubelet would place them (docs/reference/datapath-facts.md §7 and "Recommendations").
 *
 * Topology (all created per run, nothing in the root netns):
 *
 *   td<id>-<pod>  [td<id>p<n> 10.250.<n>.2/24, default via .1]
 *        |  veth, both ends created directly inside their netns
 *   td<id>-node   [td<id>h<n> 10.250.<n>.1/24]   ip_forward=1 (routes pod <-> pod)
 *
 *   cgroups: <cgroup2>/tendril-ci-<id>/<pod>   (the run's parent is where BPF may attach;
 *            never the root cgroup)
 *
 * Processes join the cgroup FIRST, then the netns with nsenter (not `ip netns exec`, which
 * remounts /sys and hides /sys/fs/cgroup and /sys/fs/bpf).
 *
 * Teardown (idempotent, synchronous, also on process exit/SIGINT/SIGTERM): cgroup.kill, kill netns
 * pids, rmdir cgroups bottom-up, ip netns del, rm the pin root. BPF links must be closed before
 * the cgroups go: register that with `onTeardown(fn)`, which runs first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { preparePinRoot, type PinRoot } from '../../native/bpffs.js';
import {
  CGROUP_ROOT,
  PRIVATE_BPFFS_PARENT,
  destroyRunObjects,
  newRunId,
  registerRun,
  runLeftovers,
  sh,
  sweepStaleRuns,
  unregisterRun,
} from './netns.js';

export interface Pod {
  name: string;
  /** netns name, `td<id>-<name>` */
  ns: string;
  nsPath: string;
  /** Pod address (no prefix length). */
  ip: string;
  /** Node-side address of this pod's veth: the pod's default gateway. */
  gateway: string;
  /** Interface name inside the pod netns. */
  ifname: string;
  /** The node-side veth end, inside the node netns (where a tc program for this pod goes). */
  hostIfname: string;
  cgroup: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const live = new Set<PodNetwork>();
let exitHooked = false;

function hookProcessExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const all = (): void => {
    for (const n of [...live]) n.teardown();
  };
  process.once('exit', all);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      all();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

export class PodNetwork {
  readonly id: string;
  /** Parent cgroup of every pod of this run; the attach point for cgroup BPF programs. */
  readonly cgroupParent: string;
  private pins: PinRoot | null = null;
  readonly nodeNs: string;
  readonly nodeNsPath: string;
  readonly pods = new Map<string, Pod>();
  private readonly children = new Set<ChildProcess>();
  private readonly hooks: Array<() => void> = [];
  private done = false;

  private constructor() {
    sweepStaleRuns();
    this.id = newRunId();
    registerRun(this.id);
    live.add(this);
    hookProcessExit();
    this.cgroupParent = join(CGROUP_ROOT, `tendril-ci-${this.id}`);
    this.nodeNs = `td${this.id}-node`;
    this.nodeNsPath = `/run/netns/${this.nodeNs}`;
    try {
      mkdirSync(this.cgroupParent);
      sh('ip', ['netns', 'add', this.nodeNs]);
      sh('ip', ['-n', this.nodeNs, 'link', 'set', 'lo', 'up']);
      sh('nsenter', [`--net=${this.nodeNsPath}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    } catch (err) {
      this.teardown();
      throw err;
    }
  }

  /** Creates the run and registers its teardown with `t.after` (and process exit). */
  static create(t?: TestContext): PodNetwork {
    const n = new PodNetwork();
    t?.after(() => {
      const problems = n.teardown();
      if (problems.length) throw new Error(`pod fixture teardown: ${problems.join('; ')}`);
    });
    return n;
  }

  /** The run's BPF pin root on bpffs, prepared on first use (pass it to BpfObject.open). */
  get pinRoot(): string {
    if (!this.pins) this.pins = preparePinRoot(`tendril-ci-${this.id}`, PRIVATE_BPFFS_PARENT);
    return this.pins.path;
  }

  /** Runs fn at the start of teardown (before cgroups/netns go): close BPF links here. */
  onTeardown(fn: () => void): void {
    this.hooks.push(fn);
  }

  /** Adds a pod with index n (1..250): address 10.250.<n>.2, gateway 10.250.<n>.1. */
  addPod(name: string, n: number = this.pods.size + 1): Pod {
    if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`pod name must be [a-z0-9]{1,8}, got "${name}"`);
    if (!Number.isInteger(n) || n < 1 || n > 250) throw new Error(`pod index must be 1-250, got ${n}`);
    const pod: Pod = {
      name,
      ns: `td${this.id}-${name}`,
      nsPath: `/run/netns/td${this.id}-${name}`,
      ip: `10.250.${n}.2`,
      gateway: `10.250.${n}.1`,
      ifname: `td${this.id}p${n}`,
      hostIfname: `td${this.id}h${n}`,
      cgroup: join(this.cgroupParent, name),
    };
    mkdirSync(pod.cgroup);
    this.pods.set(name, pod);
    sh('ip', ['netns', 'add', pod.ns]);
    sh('ip', ['link', 'add', pod.ifname, 'netns', pod.ns, 'type', 'veth', 'peer', 'name', pod.hostIfname, 'netns', this.nodeNs]);
    sh('ip', ['-n', pod.ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', pod.ns, 'addr', 'add', `${pod.ip}/24`, 'dev', pod.ifname]);
    sh('ip', ['-n', pod.ns, 'link', 'set', pod.ifname, 'up']);
    sh('ip', ['-n', this.nodeNs, 'addr', 'add', `${pod.gateway}/24`, 'dev', pod.hostIfname]);
    sh('ip', ['-n', this.nodeNs, 'link', 'set', pod.hostIfname, 'up']);
    sh('ip', ['-n', pod.ns, 'route', 'add', 'default', 'via', pod.gateway]);
    return pod;
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod "${name}" in run ${this.id}`);
    return p;
  }

  /**
   * Spawns cmd inside the pod: joins the pod cgroup first, then its netns (nsenter).
   * `target` may be a pod name, or 'node' for the node netns in the run's parent cgroup.
   * With `netns: false` the process joins only the cgroup and stays in the caller's netns (the
   * standalone-agent model: pods are 127.0.0.x addresses on the host, told apart by cgroup).
   */
  spawn(target: string, cmd: string, args: string[] = [], opts: { netns?: boolean; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const [cgroup, nsPath] = target === 'node' ? [this.cgroupParent, this.nodeNsPath] : [this.pod(target).cgroup, this.pod(target).nsPath];
    const script =
      opts.netns === false
        ? 'echo $$ > "$1/cgroup.procs" || exit 97; shift 2; exec "$@"'
        : 'echo $$ > "$1/cgroup.procs" || exit 97; ns=$2; shift 2; exec nsenter --net="$ns" -- "$@"';
    const child = spawn('sh', ['-c', script, 'sh', cgroup, nsPath, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs cmd in the pod to completion (bounded by timeoutMs) and collects its output. */
  exec(target: string, cmd: string, args: string[] = [], timeoutMs = 15_000, opts: { netns?: boolean; input?: string } = {}): Promise<ExecResult> {
    const child = this.spawn(target, cmd, args, { netns: opts.netns });
    const input = opts.input;
    return collect(child, timeoutMs, input);
  }

  /** Synchronous, idempotent teardown. Returns problems (empty when everything went away). */
  teardown(): string[] {
    if (this.done) return [];
    this.done = true;
    const problems: string[] = [];
    for (const h of this.hooks.splice(0)) {
      try {
        h();
      } catch (err) {
        problems.push(`teardown hook: ${(err as Error).message}`);
      }
    }
    for (const c of this.children) c.kill('SIGKILL');
    problems.push(...destroyRunObjects(this.id));
    const left = runLeftovers(this.id);
    if (left.length) problems.push(`left behind: ${left.join(', ')}`);
    else unregisterRun(this.id);
    live.delete(this);
    return problems;
  }

  leftovers(): string[] {
    return runLeftovers(this.id);
  }
}

/** Collects a child's output until exit; kills it after timeoutMs. */
export function collect(child: ChildProcess, timeoutMs: number, input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** Resolves with the first stdout line matching re (or rejects on exit/timeout). */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let errBuf = '';
    const onErr = (d: Buffer): void => {
      errBuf += d.toString();
    };
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`process exited (${code}) before printing ${re}; stdout=${buf.slice(-500)} stderr=${errBuf.slice(-500)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timeout waiting for ${re}; stdout=${buf.slice(-500)} stderr=${errBuf.slice(-500)}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}
