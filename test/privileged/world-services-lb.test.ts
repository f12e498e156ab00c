/**
 * kubeProxyReplacement: the world's Services (in kubernetes mode: Services + EndpointSlices) drive
 * the socket-LB maps. A process in the agent cgroup dialing the ClusterIP lands on the backend
 * pod's targetPort; a world change (the backend moves) is followed by the maps without a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { privilegedOrSkip } from '../helpers/privileged.js';
import { PodNetwork } from '../helpers/pod.js';
import { startTcpServer } from '../helpers/servers.js';
import { loadConfig } from '../../config/index.js';
import { CallbackSink } from '../../observe/index.js';
import { datapathComponent } from '../../datapath/index.js';
import { PolicyState } from '../../agent/policy-source.js';
import { mergePolicySets, parseWorld } from '../../policy/index.js';

const world = (backendIp: string, port: number): string => `
endpoints:
  - {name: api-0, namespace: a, labels: {app: api}, ips: [${backendIp}], ports: [{name: http, containerPort: ${port}}]}
services:
  - {name: api, namespace: a, selector: {app: api}, clusterIP: 10.96.183.10, ports: [{port: 80, targetPort: http}]}
`;

test('kubeProxyReplacement: world services drive the socket LB and follow a world change', async (t) => {
  if (!privilegedOrSkip(t, { bpf: true, cgroup: true, netns: true })) return;
  const net = PodNetwork.create(t);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-kpr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startTcpServer((s) => s.end('backend-1'), '127.0.183.20');
  t.after(() => first.close());
  const second = await startTcpServer((s) => s.end('backend-2'), '127.0.183.21');
  t.after(() => second.close());
  const cgroupRoot = join(net.cgroupParent, 'agent');
  const file = join(dir, 'tendril.yaml');
  writeFileSync(file, ['kubeProxyReplacement: true', 'datapath:', '  enabled: true', `  cgroupRoot: ${cgroupRoot}`, `  pinRoot: /sys/fs/bpf/tendril-ci-${net.id}`, ''].join('\n'));
  const config = loadConfig({ file });
  const state = new PolicyState(mergePolicySets([]), parseWorld(world('127.0.183.20', first.port), 'w1'), { policyFiles: [], world: 'test' }, pino({ level: 'silent' }));
  const comp = datapathComponent({ config, log: pino({ level: 'silent' }), policy: state, flows: new CallbackSink(() => undefined) });
  let stopped = false;
  net.onTeardown(() => {
    if (!stopped) void comp.stop();
  });
  await comp.start();
  assert.equal(comp.status().services, 1);
  const dial = () => net.exec('node', 'sh', ['-c', `echo $$ > ${cgroupRoot}/cgroup.procs && exec curl -sS --max-time 3 telnet://10.96.183.10:80 </dev/null`], 10_000, { netns: false });

  await t.test('the ClusterIP reaches the backend pod on its named targetPort', async () => {
    const r = await dial();
    assert.equal(r.stdout, 'backend-1', r.stderr);
  });

  await t.test('a world change moves the backend; the maps follow without a restart', async () => {
    assert.equal(state.apply({ world: parseWorld(world('127.0.183.21', second.port), 'w2') }, 'test'), true);
    const r = await dial();
    assert.equal(r.stdout, 'backend-2', r.stderr);
  });

  await comp.stop();
  stopped = true;
});
