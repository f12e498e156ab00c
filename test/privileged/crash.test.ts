/**
 * A crash of the agent leaves no attachment behind: a separate process loads the datapath,
 * attaches the cgroup programs, sk_msg and tcx links, then gets SIGKILLed. Every program it held
 * must be gone from the kernel (links are fds), the cgroup must have no programs attached, and
 * the ClusterIP must stop being translated. Pinned maps remain until teardown removes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork, waitForLine } from '../helpers/pod.js';
import { PRIVATE_BPFFS_PARENT } from '../helpers/netns.js';
import { startTool, runTool } from '../helpers/datapath.js';

const AGENT = fileURLToPath(new URL('./fixtures/crash-agent.ts', import.meta.url));

interface BpftoolProg { id: number; name?: string; map_ids?: number[] }

/** Programs using any map pinned under pinRoot (this bpftool build has no `pids` column). */
function progsUsingPins(pinRoot: string): number[] {
  const mapIds = new Set<number>();
  for (const f of readdirSync(pinRoot).filter((n) => n.startsWith('tendril_'))) {
    const m = JSON.parse(execFileSync('bpftool', ['map', 'show', 'pinned', join(pinRoot, f), '-j'], { encoding: 'utf8' })) as { id: number };
    mapIds.add(m.id);
  }
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as BpftoolProg[];
  return progs.filter((p) => p.name?.startsWith('tnd_') && p.map_ids?.some((id) => mapIds.has(id))).map((p) => p.id);
}

function liveTndProgs(): number {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as BpftoolProg[];
  return progs.filter((p) => p.name?.startsWith('tnd_')).length;
}

function liveProgIds(): Set<number> {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as BpftoolProg[];
  return new Set(progs.map((p) => p.id));
}

function cgroupProgs(dir: string): unknown[] {
  const out = execFileSync('bpftool', ['cgroup', 'show', dir, '-j'], { encoding: 'utf8' }).trim();
  return out ? (JSON.parse(out) as unknown[]) : [];
}

test('SIGKILL of the agent detaches every cgroup, sk_msg and tcx attachment', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const a = net.addPod('a', 1);
  const b = net.addPod('b', 2);
  await startTool(net, 'b', ['serve-tcp', b.ip, '8080', 'b']);

  const agent = net.spawn('node', process.execPath, ['--import', 'tsx', AGENT, net.cgroupParent, `tendril-ci-${net.id}`, PRIVATE_BPFFS_PARENT, a.nsPath, a.ifname]);
  // The agent runs in the node netns inside the run's parent cgroup, like a real node agent would.
  let agentErr = '';
  agent.stderr!.on('data', (d: Buffer) => (agentErr += d));
  const ready = await waitForLine(agent, /READY (\S+)\n/, 20_000);
  const pinRoot = ready[1]!;

  // The programs the agent holds: those using its pinned maps (cgroup, sk_msg, tc), plus the ids
  // `bpftool cgroup show` reports attached to its cgroup, polled (bounded) until all are visible.
  const heldNow = (): number[] => [...new Set([...progsUsingPins(pinRoot), ...(cgroupProgs(net.cgroupParent) as Array<{ id: number }>).map((p) => p.id)])];
  let held = heldNow();
  for (let i = 0; i < 30 && held.length < 9; i++) {
    await new Promise((r) => setTimeout(r, 100));
    held = heldNow();
  }
  assert.ok(
    held.length >= 9,
    `the agent holds its programs (6 cgroup + sk_msg + 2 tc), got ${held.length}; pins: ${readdirSync(pinRoot).join(',') || '(none)'}; ` +
      `tnd_ programs in the kernel: ${liveTndProgs()}; agent exit ${agent.exitCode} ${agent.signalCode}; stderr: ${agentErr.slice(0, 2000)}`,
  );
  assert.equal(cgroupProgs(net.cgroupParent).length, 6, 'six cgroup programs attached');
  const viaLb = await runTool<{ reply?: string; error?: string }>(net, 'a', ['connect', '10.96.0.10', '80', '1']);
  assert.match(viaLb[0]!.reply ?? '', /^b saw 10\.250\.1\.2/, 'socket-LB works while the agent lives');

  agent.kill('SIGKILL');
  await new Promise((r) => agent.once('exit', r));
  // Link release is asynchronous in the kernel (RCU); wait boundedly.
  const deadline = Date.now() + 5000;
  let left: number[] = held;
  while (Date.now() < deadline) {
    const live = liveProgIds();
    left = held.filter((id) => live.has(id));
    if (left.length === 0 && cgroupProgs(net.cgroupParent).length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(left, [], 'no program of the dead agent is still loaded (nothing attached anywhere)');
  assert.deepEqual(cgroupProgs(net.cgroupParent), [], 'the cgroup has no programs attached');
  const after = await runTool<{ reply?: string; error?: string }>(net, 'a', ['connect', '10.96.0.10', '80', '1']);
  assert.ok(after[0]!.error, `the ClusterIP is no longer translated: ${JSON.stringify(after[0])}`);
});
