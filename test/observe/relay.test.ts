/**
 * Cluster-wide flows the way Hubble Relay gets them (docs/observe.md, "Peers and Hubble Relay"):
 * an in-test relay speaks the real wire protocol to two agents' observability stacks: it calls
 * `peer.Peer/Notify` on the first (fed, as the kubernetes node source does, with both nodes),
 * dials every announced address with the Observer API, merges their flows by time and serves
 * them on its own Observer API. `tendril observe --server <relay>` then prints both nodes'
 * flows exactly as it prints one agent's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { runCli } from '../../agent/cli/main.js';
import type { Flow } from '../../observe/index.js';
import { createObservability, FlowRing, ObserverClient, ObserverServer, type ObserveConfig } from '../../observe/consumers/index.js';
import { loadHubbleGrpc } from '../../observe/proto-load.js';
import { paymentsFlows } from './fixtures.js';

const log = pino({ level: 'silent' });

const config = (address: string): ObserveConfig => ({
  enabled: true,
  listenAddress: address,
  eventBufferCapacity: 64,
  metrics: { enabled: [], listenAddress: '127.0.0.1:0' },
  store: { enabled: false, path: '', retention: 86_400_000 },
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  process.exitCode = undefined;
  const code = await runCli(args, { stdout, stderr });
  return { code, out, err };
}

/** Peers announced by Notify until `count` are known. */
function discover(address: string, count: number): Promise<Array<{ name: string; address: string }>> {
  const { Peer } = loadHubbleGrpc();
  const client = new Peer(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Notify(req: object): grpc.ClientReadableStream<{ name: string; address: string; type: string }> };
  const call = client.Notify({});
  const peers = new Map<string, string>();
  return new Promise((resolve, reject) => {
    call.on('data', (c) => {
      if (c.type === 'PEER_DELETED') peers.delete(c.name);
      else peers.set(c.name, c.address);
      if (peers.size === count) {
        call.cancel();
        client.close();
        resolve([...peers].map(([name, a]) => ({ name, address: a })));
      }
    });
    call.on('error', (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
  });
}

test('tendril observe --server works against a relay that found the agents through peer.Peer/Notify', async (t) => {
  const flows = paymentsFlows();
  const nodes = await Promise.all(
    ['node-a', 'node-b'].map(async (name, i) => {
      const obs = createObservability({ config: config(`127.0.190.${21 + i}:0`), log, nodeName: name, version: 'test', peers: 'external' });
      await obs.start();
      t.after(() => obs.stop());
      // Each node saw every other flow.
      flows.forEach((f, k) => k % 2 === i && obs.sink.emit({ ...f, node_name: '' } as Flow));
      return { name, obs, address: (obs.status() as { observer: string }).observer };
    }),
  );
  // The kubernetes node source's job: every node running the agent, on the first node's list.
  for (const n of nodes) nodes[0]!.obs.peers.add({ name: n.name, address: n.address, tls: null });

  const peers = await discover(nodes[0]!.address, 2);
  assert.deepEqual(peers.map((p) => p.name).sort(), ['node-a', 'node-b']);
  const merged: Flow[] = [];
  for (const p of peers) {
    const c = new ObserverClient(p.address);
    for await (const e of c.getFlows({ number: 0 }).events) if ('flow' in e) merged.push(e.flow);
    c.close();
  }
  merged.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const ring = new FlowRing(64);
  for (const f of merged) ring.emit(f);
  const relay = new ObserverServer({ ring, log, nodeName: 'relay', version: 'test', address: '127.0.190.20:0' });
  const relayAddress = await relay.start();
  t.after(() => relay.stop());

  const viaRelay = await cli(['observe', '--server', relayAddress, '--all', '-o', 'json']);
  assert.equal(viaRelay.code, 0, viaRelay.err);
  const lines = viaRelay.out.trim().split('\n').map((l) => JSON.parse(l) as { flow: Flow; node_name: string });
  assert.equal(lines.length, flows.length);
  assert.deepEqual(lines.map((l) => l.node_name), flows.map((_, k) => (k % 2 === 0 ? 'node-a' : 'node-b')));
  // The same flags print the same lines against one agent as against the relay (its share).
  const direct = await cli(['observe', '--server', nodes[1]!.address, '--all', '--print-node-name']);
  const relayed = await cli(['observe', '--server', relayAddress, '--all', '--print-node-name', '--node-name', 'node-b']);
  assert.equal(direct.code, 0, direct.err);
  assert.ok(direct.out.includes('node-b'));
  assert.equal(relayed.out, direct.out);
});
