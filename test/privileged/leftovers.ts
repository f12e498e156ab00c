#!/usr/bin/env -S node --import tsx
/**
 * CI's final check after the privileged suites: exits 1 when anything of a Tendril test run is
 * left on the host — a `tendril-ci-*` cgroup, a netns of a registered run (`td<id>-*`), a pin
 * folder `tendril-ci-*` (bpffs or private mount), or a live registration. Runs the sweeper first
 * only with --sweep. Usage: node --import tsx test/privileged/leftovers.ts [--sweep]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { BPFFS_ROOT, CGROUP_ROOT, PRIVATE_BPFFS_PARENT, AGENT_BPFFS_PARENT, RUNS_DIR, netnsList, sweepStaleRuns } from '../helpers/netns.js';

if (process.argv.includes('--sweep')) sweepStaleRuns();
const left: string[] = [];
const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
for (const n of list(CGROUP_ROOT)) if (n.startsWith('tendril-ci-') || n.startsWith('tendril-agent-')) left.push(`cgroup ${CGROUP_ROOT}/${n}`);
for (const d of [BPFFS_ROOT, PRIVATE_BPFFS_PARENT, AGENT_BPFFS_PARENT]) for (const n of list(d)) if (n.startsWith('tendril-ci-')) left.push(`pins ${d}/${n}`);
const ids = list(RUNS_DIR).map((f) => f.replace(/\.pid$/, ''));
for (const id of ids) left.push(`run registration ${RUNS_DIR}/${id}.pid`);
for (const ns of netnsList()) if (/^td[a-z0-9]{5}-/.test(ns)) left.push(`netns ${ns}`);
for (const n of list('/var/run/wireguard')) if (/^tdwg[a-z0-9]{5}/.test(n)) left.push(`WireGuard UAPI socket /var/run/wireguard/${n}`);
for (const pid of list('/proc').filter((p) => /^\d+$/.test(p))) {
  let argv: string[] = [];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    continue;
  }
  if (argv[0]?.endsWith('wireguard-go') && argv.some((a) => /^tdwg[a-z0-9]{5}/.test(a))) left.push(`wireguard-go pid ${pid} (${argv.join(' ').trim()})`);
}
if (left.length) {
  process.stderr.write(`tendril privileged leftovers:\n  ${left.join('\n  ')}\n`);
  process.exit(1);
}
process.stdout.write('tendril privileged leftovers: none\n');
