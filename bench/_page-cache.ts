/**
 * Cold-cache measurements: evicts a file's pages from the kernel page cache with
 * posix_fadvise(POSIX_FADV_DONTNEED), through GNU dd (`iflag=nocache count=0` advises DONTNEED
 * for the whole file), and reports how much of it is still resident (util-linux `fincore`), so a
 * benchmark can say the cache really was cold. Only the named files are affected (no global
 * drop_caches). Dirty pages cannot be dropped: call after the writer closed (or fsynced) them.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Files under `path` (itself if a file). */
function filesOf(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((n) => filesOf(join(path, n)));
}

/** Evicts every file of `paths` (files or directories) from the page cache; returns bytes still resident. */
export function dropPageCache(paths: string[]): number {
  const files = paths.flatMap(filesOf);
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
  return residentBytes(files);
}

/** Bytes of `files` in the page cache (fincore), or NaN when fincore is not installed. */
export function residentBytes(files: string[]): number {
  let total = 0;
  for (const f of files) {
    try {
      total += Number(execFileSync('fincore', ['-b', '-n', '-o', 'RES', f], { encoding: 'utf8' }).trim() || 0);
    } catch {
      return Number.NaN;
    }
  }
  return total;
}
