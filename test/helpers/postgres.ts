/**
 * A real PostgreSQL server from Debian's postgresql package for a test or benchmark: a fresh
 * cluster (initdb) in a temporary directory, listening on one loopback address only (TCP; its
 * Unix socket in that directory), stopped and removed by `stop()` or, if the process exits first,
 * by an exit hook. PostgreSQL refuses to run as root, so under root the server runs as the
 * `postgres` user (runuser); otherwise as the current user.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './servers.js';

export interface TestPostgres {
  url: string;
  /** The cluster's data directory (benchmarks evict its files from the page cache). */
  dataDir: string;
  /** Stops the server (immediate mode unless `fast`) and removes every file; idempotent. */
  stop(): void;
  /** Restarts the server (a cold buffer cache for benchmarks); `whileStopped` runs in between. */
  restart(whileStopped?: () => void): void;
}

/** The newest installed server's bin directory, or null when the package is not installed. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0]!, 'bin') : null;
}

export async function startPostgres(host: string, settings: Record<string, string> = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql; scripts/bootstrap.sh installs it)');
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'postgres' : userInfo().username;
  const run = (cmd: string, args: string[]): string =>
    execFileSync(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', user, '--', join(bin, cmd), ...args] : args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const dir = mkdtempSync(join(tmpdir(), 'tendril-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort(host);
  const opts = [`-c listen_addresses=${host}`, `-p ${port}`, `-k ${dir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  let running = false;
  const stop = (): void => {
    if (running) {
      running = false;
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
    process.removeListener('exit', stop);
  };
  process.on('exit', stop);
  const start = (): void => {
    try {
      run('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', opts, '-w', '-t', '60', 'start']);
      running = true;
    } catch (err) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
    }
  };
  try {
    run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'tendril', '-E', 'UTF8', '--locale=C', '--no-sync']);
    start();
  } catch (err) {
    stop();
    throw err;
  }
  return {
    url: `postgres://tendril@${host}:${port}/postgres`,
    dataDir,
    stop,
    restart(whileStopped) {
      run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      running = false;
      whileStopped?.();
      start();
    },
  };
}
