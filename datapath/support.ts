/**
 * Can this process run the eBPF datapath? Returns null when yes, else a sentence naming what is
 * missing and the fix. The agent logs it and runs the proxy in explicit mode instead.
 */
import { existsSync } from 'node:fs';
import { isAddonAvailable, defaultObjectPath } from '../native/index.js';

export const CGROUP2_CANDIDATES = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'];

export function cgroup2Root(): string | null {
  for (const c of CGROUP2_CANDIDATES) {
    // cgroup v2 has cgroup.procs at its root and no `tasks` file
    if (existsSync(`${c}/cgroup.procs`) && !existsSync(`${c}/tasks`)) return c;
  }
  return null;
}

export function datapathUnsupportedReason(): string | null {
  if (process.platform !== 'linux') return `the eBPF datapath needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'the eBPF datapath needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'the kernel has no BTF (/sys/kernel/btf/vmlinux); CONFIG_DEBUG_INFO_BTF is required';
  if (!cgroup2Root()) return 'no cgroup v2 mount at /sys/fs/cgroup/unified or /sys/fs/cgroup';
  if (!isAddonAvailable()) return 'the libbpf addon is not built: run `npm run build:native`';
  for (const o of ['sock', 'tc'] as const) {
    if (!existsSync(defaultObjectPath(o))) return `the BPF object ${defaultObjectPath(o)} is not built: run \`npm run build:bpf\``;
  }
  return null;
}
