/**
 * Cold-cache measurements: evicts files from the kernel page cache with
 * posix_fadvise(POSIX_FADV_DONTNEED) (after an fsync, since dirty pages cannot be dropped), in
 * one small python3 helper process for all files, and reports how much of them is still
 * resident (util-linux `fincore`), so a benchmark can say the cache really was cold. Only the
 * named files are affected (no global drop_caches). Files that vanish meanwhile are skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const HELPER = `
import os, sys
for f in sys.argv[1:]:
    try:
        fd = os.open(f, os.O_RDONLY)
    except FileNotFoundError:
        continue
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
`;

/** Files under `path` (itself if a file). */
function filesOf(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((n) => filesOf(join(path, n)));
}

/** Evicts every file of `paths` (files or directories) from the page cache; returns bytes still resident. */
export function dropPageCache(paths: string[]): number {
  const files = paths.flatMap(filesOf);
  if (files.length === 0) return 0;
  execFileSync('python3', ['-c', HELPER, ...files]);
  return residentBytes(files);
}

/** Bytes of `files` in the page cache (fincore), or NaN when fincore is not installed. */
export function residentBytes(files: string[]): number {
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) return 0;
  try {
    const out = execFileSync('fincore', ['-b', '-n', '-o', 'RES', ...present], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').reduce((sum, l) => sum + (Number(l.trim()) || 0), 0);
  } catch {
    return Number.NaN;
  }
}
