/**
 * Can this machine run WireGuard for the agent? The userspace backend needs root (a tun device
 * and routes), `/dev/net/tun`, and `wireguard-go` on PATH. The in-kernel module (visible as
 * /sys/module/wireguard) is detected but has no netlink backend here: with only the module and
 * no wireguard-go the answer is "unsupported", never a device that is not configured.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type WireGuardBackend = 'wireguard-go';

export function findOnPath(bin: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The backend to use, or why there is none. */
export function wireguardSupport(env: { path?: string; uid?: number } = {}): { backend: WireGuardBackend; binary: string } | { backend: null; reason: string } {
  const uid = env.uid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
  if (uid !== 0) return { backend: null, reason: 'not running as root (a WireGuard device and its routes need CAP_NET_ADMIN)' };
  const bin = findOnPath('wireguard-go', env.path);
  const kernel = existsSync('/sys/module/wireguard');
  if (!bin) {
    return {
      backend: null,
      reason: kernel
        ? 'wireguard-go is not on PATH, and the in-kernel WireGuard module has no backend in Tendril (install wireguard-go)'
        : 'the kernel has no WireGuard module and wireguard-go is not on PATH (install wireguard-go)',
    };
  }
  if (!existsSync('/dev/net/tun')) return { backend: null, reason: 'wireguard-go needs /dev/net/tun, which is missing' };
  return { backend: 'wireguard-go', binary: bin };
}
