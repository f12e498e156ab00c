/**
 * Privileged-test gate. A privileged test (BPF, netns, cgroups, WireGuard) calls
 * `privilegedOrSkip(t)` first: when not root it skips LOUDLY, naming what is missing and the
 * command that runs it; under TENDRIL_REQUIRE_PRIVILEGED=1 (set by .ci/run) that skip is a failure.
 */
import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';

export const requirePrivileged = process.env.TENDRIL_REQUIRE_PRIVILEGED === '1';

/** What is missing for privileged tests on this machine, or null when all is there. */
export function missingPrivilege(needs: { bpf?: boolean; netns?: boolean; cgroup?: boolean } = {}): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  if (needs.cgroup && !existsSync('/sys/fs/cgroup/unified/cgroup.procs') && !existsSync('/sys/fs/cgroup/cgroup.procs')) {
    return 'no cgroup v2 mount at /sys/fs/cgroup/unified or /sys/fs/cgroup';
  }
  if (needs.bpf && !existsSync('/sys/fs/bpf')) return 'bpffs is not mounted at /sys/fs/bpf';
  if (needs.netns && !existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip')) return 'iproute2 (ip) is not installed';
  return null;
}

/**
 * Returns true when the test may go on. Otherwise skips it loudly (or fails it under
 * TENDRIL_REQUIRE_PRIVILEGED=1) and returns false.
 */
export function privilegedOrSkip(t: TestContext, needs: Parameters<typeof missingPrivilege>[0] = {}): boolean {
  const missing = missingPrivilege(needs);
  if (!missing) return true;
  const msg = `PRIVILEGED TEST NOT RUN: ${missing}. Run as root: sudo TENDRIL_REQUIRE_PRIVILEGED=1 npm test`;
  if (requirePrivileged) throw new Error(`${msg} (TENDRIL_REQUIRE_PRIVILEGED=1 makes this a failure)`);
  process.stderr.write(`\n!!! ${msg}\n\n`);
  t.skip(msg);
  return false;
}
