/**
 * cgroup/getsockopt SO_ORIGINAL_DST emulation: a C listener (as an iptables-REDIRECT-aware proxy
 * would be) running in an attached cgroup asks the kernel for SO_ORIGINAL_DST on each accepted
 * socket. A connection that connect4 redirected gets the original destination; a connection that
 * was not redirected gets the kernel's own ENOENT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork, waitForLine } from '../helpers/pod.js';
import { startDatapath } from '../helpers/datapath.js';

const SRC = fileURLToPath(new URL('./fixtures/origdst-listener.c', import.meta.url));

test('SO_ORIGINAL_DST returns the pre-redirect destination to a proxy in an attached cgroup', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const dir = mkdtempSync(join(tmpdir(), 'tendril-origdst-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'origdst-listener');
  execFileSync('cc', ['-O2', '-o', bin, SRC]);

  const pods = PodNetwork.create(t);
  const client = pods.addPod('client', 1);
  pods.addPod('proxy', 2);
  const dp = startDatapath(pods);

  const listener = pods.spawn('proxy', bin, ['127.0.0.1', '2'], { netns: false });
  const port = Number((await waitForLine(listener, /LISTENING (\d+)\n/))[1]);

  dp.policy.setIdentity('127.0.62.10', 1002);
  dp.policy.setCgroupIdentity(client.cgroup, 1001);
  dp.policy.setRedirects([{ srcIdentity: 1001, dstIdentity: 1002, port: 8081, proto: 6, proxyIp: '127.0.0.1', proxyPort: port, policy: 'shop/web' }]);

  const lines: string[] = [];
  listener.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter((l) => l.startsWith('ACCEPT'))));

  const viaPodCgroup = await pods.exec('client', process.execPath, [
    '-e',
    `const s=require('net').connect({host:'127.0.62.10',port:8081,localAddress:'127.0.62.20'});s.on('connect',()=>{console.log('CONNECTED',s.remoteAddress+':'+s.remotePort);s.end()});s.on('error',e=>{console.log('ERR',e.code);process.exit(1)});`,
  ], 10_000, { netns: false });
  assert.match(viaPodCgroup.stdout, /CONNECTED 127\.0\.62\.10:8081/, `client sees the original peer: ${viaPodCgroup.stdout}${viaPodCgroup.stderr}`);

  // Not redirected: a direct connection from this process (root cgroup) to the listener.
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end());
    s.on('close', () => resolve());
    s.on('error', reject);
  });

  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && lines.length < 2) await new Promise((res) => setTimeout(res, 50));
  assert.equal(lines.length, 2, `two accepts: ${lines.join(' | ')}`);
  assert.match(lines[0]!, /^ACCEPT peer=127\.0\.62\.20:\d+ orig=127\.0\.62\.10:8081$/);
  assert.match(lines[1]!, /^ACCEPT peer=127\.0\.0\.1:\d+ errno=2$/, 'no redirect: the kernel answers ENOENT');
  assert.ok(dp.stats().ORIG_DST_SOCKOPT >= 1n);
});
