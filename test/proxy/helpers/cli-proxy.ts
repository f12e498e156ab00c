/**
 * Spawns `node bin/tendril.js proxy ...` exactly as the contract (docs/reference/proxy-contract.md)
 * is called, waits for the `listening` line on stderr, and kills it in t.after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';

const BIN = new URL('../../../bin/tendril.js', import.meta.url).pathname;

export interface CliProxy {
  child: ChildProcess;
  host: string;
  port: number;
  url: string;
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  /** Peak resident memory of the proxy process so far (VmHWM), bytes. */
  peakRss(): number;
}

export function spawnTendril(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | string> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TENDRIL_FROM_SOURCE: '1' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function startCliProxy(t: TestContext, args: string[], timeoutMs = 20_000): Promise<CliProxy> {
  const p = spawnTendril(['proxy', ...args]);
  t.after(async () => {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within ${timeoutMs} ms; stderr: ${p.stderr()}`)), timeoutMs);
    const check = (): void => {
      const l = p.stderr().split('\n').find((x) => x.includes('listening'));
      if (l) {
        clearTimeout(timer);
        resolve(l);
      }
    };
    p.child.stderr!.on('data', check);
    void p.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tendril proxy exited ${code} before listening; stderr: ${p.stderr()}`));
    });
  });
  const m = /(\d+\.\d+\.\d+\.\d+):(\d+)/.exec(line);
  if (!m) throw new Error(`listening line has no address: ${line}`);
  const pid = p.child.pid!;
  return {
    child: p.child,
    host: m[1]!,
    port: Number(m[2]),
    url: `http://${m[1]}:${m[2]}`,
    stderr: p.stderr,
    stdout: p.stdout,
    exited: p.exited,
    peakRss: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0') * 1024,
  };
}
