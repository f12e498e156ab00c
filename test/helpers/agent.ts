/**
 * Runs `tendril agent` as a child process with `--set` overrides, collects its logs, and waits
 * until its health endpoint reports ready. The child is SIGKILLed in t.after if still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { request } from 'undici';

export const TENDRIL_BIN = new URL('../../bin/tendril.js', import.meta.url).pathname;

export interface AgentProcess {
  child: ChildProcess;
  /** Everything the agent wrote to stdout and stderr so far. */
  logs(): string;
}

export function spawnAgent(t: { after(fn: () => unknown): void }, sets: string[]): AgentProcess {
  const child = spawn(process.execPath, [TENDRIL_BIN, 'agent', ...sets.flatMap((s) => ['--set', s])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, logs: () => out };
}

/** Polls GET <health>/readyz until 200; fails with the agent's logs if it exits or times out. */
export async function waitReady(agent: AgentProcess, healthAddress: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (agent.child.exitCode !== null) assert.fail(`agent exited early with ${agent.child.exitCode}:\n${agent.logs()}`);
    if (Date.now() > deadline) assert.fail(`agent not ready in ${timeoutMs} ms:\n${agent.logs()}`);
    const ok = await request(`http://${healthAddress}/readyz`).then(
      async (r) => (await r.body.dump(), r.statusCode === 200),
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
