/**
 * Low-level, synchronous helpers for privileged tests: a per-process run id, shell-free command
 * execution, and the sweeper that removes leftovers of EARLIER runs that died without teardown.
 *
 * Naming (docs/reference/datapath-facts.md, "Recommendations" 1): every object carries the run id:
 *   cgroup   /sys/fs/cgroup/unified/tendril-ci-<id>/<pod>
 *   netns    td<id>-<name>
 *   pins     /sys/fs/bpf/tendril-ci-<id> (or a private bpffs at /run/tendril-ci-bpffs/tendril-ci-<id>)
 * A run registers itself in /tmp/tendril-ci-runs/<id>.pid BEFORE creating anything; the sweeper
 * only touches ids whose owner file names a dead process, so parallel test files never collide
 * and nothing that is not ours (other prefixes, live runs) is ever touched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { releaseMounted } from '../../native/bpffs.js';

export const CGROUP_ROOT = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
export const BPFFS_ROOT = '/sys/fs/bpf';
export const RUNS_DIR = '/tmp/tendril-ci-runs';
/** Where a private bpffs is mounted per run when /sys/fs/bpf is not a bpffs (see native/bpffs.ts). */
export const PRIVATE_BPFFS_PARENT = '/run/tendril-ci-bpffs';
/** native/bpffs.ts's default private-mount parent (used by the agent component). */
export const AGENT_BPFFS_PARENT = '/run/tendril-bpffs';
/** 5 characters [a-z0-9]: keeps `td<id><x><n>` interface names within 15 characters. */
export const RUN_ID_RE = /^[a-z0-9]{5}$/;
/** wireguard-go's UAPI socket folder; a run's devices are named `tdwg<id><n>`. */
export const WG_UAPI_DIR = '/var/run/wireguard';

export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(5), (b) => alphabet[b % alphabet.length]).join('');
}

/** Runs a command without a shell; throws with stderr in the message on failure. */
export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: opts.input, timeout: 20_000 });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${e.status}): ${String(e.stderr ?? '').trim()}`, { cause: err });
  }
}

export function netnsList(): string[] {
  return sh('ip', ['netns', 'list'], { allowFail: true })
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => !!n);
}

export function isPidAlive(pid: number): boolean {
  try {
    // a zombie (killed, not yet reaped) counts as dead
    if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
  } catch {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Records the owner of a run id; must be called before the run creates anything. */
export function registerRun(id: string): void {
  mkdirSync(RUNS_DIR, { recursive: true });
  writeFileSync(join(RUNS_DIR, `${id}.pid`), String(process.pid));
}

export function unregisterRun(id: string): void {
  rmSync(join(RUNS_DIR, `${id}.pid`), { force: true });
}

/** Kills every process inside a netns (all of them belong to the run that created it). */
export function killNetnsPids(ns: string): void {
  for (const line of sh('ip', ['netns', 'pids', ns], { allowFail: true }).split('\n')) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** cgroup.kill every cgroup under dir (inclusive), then rmdir bottom-up. Returns leftover errors. */
export function removeCgroupTree(dir: string): string[] {
  const problems: string[] = [];
  if (!existsSync(dir)) return problems;
  const children = readdirSync(dir).filter((n) => {
    try {
      return statSync(join(dir, n)).isDirectory();
    } catch {
      return false;
    }
  });
  for (const c of children) problems.push(...removeCgroupTree(join(dir, c)));
  try {
    if (existsSync(join(dir, 'cgroup.kill'))) writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    /* ignore: rmdir below reports the real problem */
  }
  // cgroup.kill is asynchronous w.r.t. process exit: retry rmdir briefly (bounded).
  const deadline = Date.now() + 3000;
  for (let i = 0; i < 300; i++) {
    try {
      rmdirSync(dir);
      return problems;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return problems;
      if (code !== 'EBUSY' || Date.now() > deadline) {
        problems.push(`rmdir ${dir}: ${code}`);
        return problems;
      }
      execFileSync('sleep', ['0.01']);
    }
  }
  problems.push(`rmdir ${dir}: still busy`);
  return problems;
}

/** Deletes everything a run id may have created (netns, cgroups, pins). Idempotent and synchronous. */
export function destroyRunObjects(id: string): string[] {
  const problems: string[] = [];
  const prefix = `td${id}-`;
  const mine = netnsList().filter((n) => n.startsWith(prefix));
  for (const ns of mine) killNetnsPids(ns);
  problems.push(...removeCgroupTree(join(CGROUP_ROOT, `tendril-ci-${id}`)));
  for (const ns of mine) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  // WireGuard UAPI sockets of the run's devices (the directory is global, not per netns).
  if (existsSync(WG_UAPI_DIR)) {
    for (const f of readdirSync(WG_UAPI_DIR)) {
      if (!f.startsWith(`tdwg${id}`)) continue;
      try {
        rmSync(join(WG_UAPI_DIR, f), { force: true });
      } catch (err) {
        problems.push(`rm ${join(WG_UAPI_DIR, f)}: ${(err as Error).message}`);
      }
    }
  }
  const pins = join(BPFFS_ROOT, `tendril-ci-${id}`);
  if (existsSync(pins)) {
    try {
      rmSync(pins, { recursive: true, force: true });
    } catch (err) {
      problems.push(`rm ${pins}: ${(err as Error).message}`);
    }
  }
  for (const parent of [PRIVATE_BPFFS_PARENT, AGENT_BPFFS_PARENT]) {
    const priv = join(parent, `tendril-ci-${id}`);
    if (!existsSync(priv)) continue;
    try {
      releaseMounted(priv);
    } catch (err) {
      problems.push(`umount ${priv}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/**
 * Removes leftovers of earlier runs whose owner process is dead. Only ids registered in RUNS_DIR
 * are considered, so names we did not create are never touched.
 */
export function sweepStaleRuns(): string[] {
  if (!existsSync(RUNS_DIR)) return [];
  const swept: string[] = [];
  for (const f of readdirSync(RUNS_DIR)) {
    const m = /^([a-z0-9]{5})\.pid$/.exec(f);
    if (!m) continue;
    const id = m[1]!;
    let pid: number;
    try {
      pid = Number(readFileSync(join(RUNS_DIR, f), 'utf8').trim());
    } catch (err) {
      // Another test process swept or unregistered it between readdir and read.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (Number.isInteger(pid) && pid > 0 && isPidAlive(pid)) continue;
    destroyRunObjects(id);
    unregisterRun(id);
    swept.push(id);
  }
  return swept;
}

/** What of a run is still present (for the "teardown leaves nothing behind" assertions). */
export function runLeftovers(id: string): string[] {
  const left: string[] = [];
  for (const ns of netnsList()) if (ns.startsWith(`td${id}-`)) left.push(`netns ${ns}`);
  if (existsSync(join(CGROUP_ROOT, `tendril-ci-${id}`))) left.push(`cgroup ${join(CGROUP_ROOT, `tendril-ci-${id}`)}`);
  if (existsSync(join(BPFFS_ROOT, `tendril-ci-${id}`))) left.push(`pins ${join(BPFFS_ROOT, `tendril-ci-${id}`)}`);
  for (const parent of [PRIVATE_BPFFS_PARENT, AGENT_BPFFS_PARENT]) {
    if (existsSync(join(parent, `tendril-ci-${id}`))) left.push(`pins ${join(parent, `tendril-ci-${id}`)}`);
  }
  return left;
}
