/**
 * Pin roots on bpffs. libbpf pins LIBBPF_PIN_BY_NAME maps under the object's pin_root_path, which
 * must be on a bpf filesystem. When /sys/fs/bpf is a bpffs (the usual case) a per-run folder
 * under it is used; when it is not mounted (seen on some CI VMs), a PRIVATE bpffs is mounted at a
 * per-run folder instead (docs/reference/datapath-facts.md §1: "a second bpffs can be mounted
 * anywhere") and unmounted on release. Never mounts over /sys/fs/bpf.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, rmdirSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TendrilError } from '../core/index.js';

export const BPF_FS_MAGIC = 0xcafe4a11;
export const SYS_BPFFS = '/sys/fs/bpf';

export function isBpffs(dir: string): boolean {
  try {
    return statfsSync(dir).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

export interface PinRoot {
  /** Folder to pass as OpenOptions.pinRoot. */
  path: string;
  /** True when a private bpffs was mounted for it. */
  mounted: boolean;
  /** Removes the pins (and the private mount). Idempotent, synchronous. */
  release(): void;
}

/**
 * Prepares `<name>` as a pin root: `/sys/fs/bpf/<name>` when /sys/fs/bpf is bpffs, else a private
 * bpffs mounted at `<fallbackParent>/<name>`.
 */
export function preparePinRoot(name: string, fallbackParent = '/run/tendril-bpffs'): PinRoot {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TendrilError('TND_BPF_LOAD', `pin root name must be a plain folder name, got "${name}"`, { field: 'name' });
  if (isBpffs(SYS_BPFFS)) {
    const path = join(SYS_BPFFS, name);
    mkdirOnce(path);
    return { path, mounted: false, release: () => rmSync(path, { recursive: true, force: true }) };
  }
  const path = join(fallbackParent, name);
  mkdirSync(path, { recursive: true }); // fallbackParent is on a normal filesystem
  if (!isBpffs(path)) {
    try {
      execFileSync('mount', ['-t', 'bpf', 'bpf', path], { stdio: 'pipe' });
    } catch (err) {
      rmdirSync(path);
      throw new TendrilError(
        'TND_DATAPATH_UNSUPPORTED',
        `no bpffs at ${SYS_BPFFS} and mounting a private one at ${path} failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`,
        { path },
        { cause: err },
      );
    }
  }
  return { path, mounted: true, release: () => releaseMounted(path) };
}

/** Unmounts a private bpffs pin root (its pins vanish with it) and removes the folder. */
export function releaseMounted(path: string): void {
  if (!existsSync(path)) return;
  if (isBpffs(path)) execFileSync('umount', [path], { stdio: 'pipe' });
  try {
    rmdirSync(path);
  } catch {
    /* not empty or gone: leave it for the sweeper */
  }
  try {
    rmdirSync(dirname(path));
  } catch {
    /* other runs still use the parent */
  }
}

function mkdirOnce(path: string): void {
  // Not { recursive: true }: Node 20's mkdirp spins forever on bpffs.
  try {
    mkdirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new TendrilError('TND_BPF_LOAD', `cannot create pin root ${path}: ${(err as Error).message}`, { path }, { cause: err });
    }
  }
}
