/**
 * Shared setup for the privileged datapath suites: a Datapath attached to the run's parent cgroup
 * with the run's pin root (closed first at teardown), and the pod-tool traffic generator.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Datapath, type DatapathOptions } from '../../datapath/index.js';
import { PodNetwork, waitForLine } from './pod.js';
import { PRIVATE_BPFFS_PARENT } from './netns.js';

export const POD_TOOL = fileURLToPath(new URL('../privileged/fixtures/pod-tool.mjs', import.meta.url));

export function startDatapath(net: PodNetwork, extra: Partial<DatapathOptions> = {}): Datapath {
  const dp = Datapath.start({
    log: pino({ level: process.env.TENDRIL_TEST_LOG ?? 'silent' }),
    cgroupDir: net.cgroupParent,
    pinName: `tendril-ci-${net.id}`,
    pinFallbackParent: PRIVATE_BPFFS_PARENT,
    ...extra,
  });
  net.onTeardown(() => dp.close());
  return dp;
}

/** Starts a long-running pod-tool server in a pod (or 'node') and waits until it listens. */
export async function startTool(net: PodNetwork, target: string, args: string[]): Promise<ChildProcess> {
  const child = net.spawn(target, process.execPath, [POD_TOOL, ...args]);
  await waitForLine(child, /"listening"/);
  return child;
}

/** Runs a pod-tool client to completion and parses its JSON lines. */
export async function runTool<T = Record<string, unknown>>(net: PodNetwork, target: string, args: string[], timeoutMs = 20_000): Promise<T[]> {
  const r = await net.exec(target, process.execPath, [POD_TOOL, ...args], timeoutMs);
  if (r.code !== 0) throw new Error(`pod-tool ${args.join(' ')} in ${target} exited ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}
