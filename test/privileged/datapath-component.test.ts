/**
 * The agent's datapath Component from a real config file: datapath.enabled=true starts it in the
 * configured cgroup with the configured pin root, the world's endpoints get identities, each
 * standalone redirect becomes a transparent connect4 redirect (a process in the agent cgroup
 * dialing the pod address lands on the redirect's listener), and stop() removes everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { startTcpServer } from '../helpers/servers.js';
import { loadConfig } from '../../config/index.js';
import { loadPolicies, loadWorld, createEngine } from '../../policy/index.js';
import { CallbackSink } from '../../observe/index.js';
import { datapathComponent, wantsDatapath } from '../../datapath/index.js';

const examples = fileURLToPath(new URL('../../config/examples/', import.meta.url));

test('datapath component: config -> attach, identities, transparent standalone redirect, clean stop', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-dpc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seen: string[] = [];
  const listener = await startTcpServer((s) => {
    seen.push(`${s.remoteAddress}`);
    s.end('proxy-listener');
  });
  t.after(() => listener.close());
  const cgroupRoot = join(net.cgroupParent, 'agent');
  const file = join(dir, 'tendril.yaml');
  writeFileSync(
    file,
    [
      'datapath:',
      '  enabled: true',
      `  cgroupRoot: ${cgroupRoot}`,
      `  pinRoot: /sys/fs/bpf/tendril-ci-${net.id}`,
      'standalone:',
      `  policies: [${join(examples, 'corrected')}]`,
      `  world: ${join(examples, 'world.yaml')}`,
      '  redirects:',
      `    - listen: 127.0.0.1:${listener.port}`,
      '      destination: payments/payment-service-0:8080',
      '      upstream: 127.0.1.10:8080',
      '      protocol: http',
      '',
    ].join('\n'),
  );
  const config = loadConfig({ file });
  assert.equal(wantsDatapath(config), 'required');
  const world = loadWorld(config.standalone.world);
  const engine = createEngine({ policies: loadPolicies(config.standalone.policies), world });
  const comp = datapathComponent({ config, log: pino({ level: 'silent' }), policy: { engine, world }, flows: new CallbackSink(() => undefined) });
  let stopped = false;
  net.onTeardown(() => {
    if (!stopped) void comp.stop();
  });
  await comp.start();
  const st = comp.status();
  assert.equal(st.running, true, JSON.stringify(st));
  assert.equal(st.cgroup, cgroupRoot);
  const dp = comp.datapath!;
  assert.ok(dp.policy.identityOf('127.0.1.10')! >= 1000, 'world endpoints have identities');

  const r = await net.exec('node', 'sh', ['-c', `echo $$ > ${cgroupRoot}/cgroup.procs && exec curl -sS --max-time 3 telnet://127.0.1.10:8080 </dev/null`], 10_000, { netns: false });
  assert.equal(r.stdout, 'proxy-listener', `dialing the pod address reaches the redirect listener: ${r.stderr}`);
  assert.ok(seen.length >= 1);

  await comp.stop();
  stopped = true;
  assert.equal(comp.status().running, false);
  assert.ok(!existsSync(cgroupRoot), 'the component removed the cgroup it created');
});
