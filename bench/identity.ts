/**
 * Identity benchmark, one process, one run:
 *   1. handshakes per CPU-second: full tunnel sessions (TLS 1.3 mTLS, HTTP/2, SVID checks on
 *      both ends, first CONNECT stream) against plain TLS 1.3 mTLS handshakes with the same EC
 *      P-256 certificates and no SVID checks (the baseline); client and server are both in this
 *      process, so the CPU counted is both ends;
 *   2. throughput: 256 MiB pushed to a TCP sink through a tunnel stream vs a plain TCP connection
 *      to the same sink;
 *   3. added latency: 2000 one-byte request/response round trips to an echo server through a
 *      tunnel stream vs plain TCP (p50/p99).
 * Between two loopback addresses (127.0.162.1 -> 127.0.162.2), not two network namespaces; no
 * concurrency (one stream at a time); it does not measure SPIRE, rotation or the HTTP proxy.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import { makeSvid, SvidStore } from '../identity/index.js';
import { TunnelClient, TunnelServer } from '../proxy/hbone/index.js';
import { OpensslPki } from '../test/identity/pki.js';

const TD = 'cluster.local';
const CLIENT_IP = '127.0.162.1';
const SERVER_IP = '127.0.162.2';
const SINK_IP = '127.0.162.10';
const HANDSHAKES = Number(process.env.TENDRIL_BENCH_HANDSHAKES ?? '300');
const BYTES = 256 * 1024 * 1024;
const ROUNDS = 2000;

function cpuSeconds(fn: () => Promise<void>): Promise<{ cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return fn().then(() => {
    const c = process.cpuUsage(c0);
    return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000 };
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function push(stream: Duplex): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    const write = (): void => {
      while (sent < BYTES) {
        sent += chunk.length;
        if (!stream.write(chunk)) return void stream.once('drain', write);
      }
      stream.end();
      resolve();
    };
    write();
  });
  await new Promise((r) => stream.once('close', r));
  return BYTES / 1024 / 1024 / ((performance.now() - t0) / 1000);
}

async function pingPong(stream: Duplex): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    stream.write('x');
    await new Promise((r) => stream.once('data', r));
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  stream.destroy();
  return lat.sort((a, b) => a - b);
}

export async function run(log: (line: string) => void): Promise<void> {
  const pki = new OpensslPki();
  const servers: net.Server[] = [];
  try {
    const root = pki.root('root', TD);
    const int = pki.intermediate('int', root, TD);
    const srcId = `spiffe://${TD}/ns/checkout/sa/checkout-service`;
    const dstId = `spiffe://${TD}/ns/payments/sa/payment-service`;
    const srcLeaf = pki.leaf('src', int, `URI:${srcId}`);
    const dstLeaf = pki.leaf('dst', int, `URI:${dstId}`);
    const src = makeSvid(srcId, Buffer.concat([srcLeaf.certDer, int.certDer]), srcLeaf.keyDer);
    const dst = makeSvid(dstId, Buffer.concat([dstLeaf.certDer, int.certDer]), dstLeaf.keyDer);
    const bundles = new Map([[TD, [root.cert]]]);
    const serverStore = new SvidStore();
    serverStore.setBundles(bundles);
    serverStore.replace('bench', [dst]);
    const clientStore = new SvidStore();
    clientStore.setBundles(bundles);
    clientStore.replace('bench', [src]);

    // Sinks: a discard server and an echo server on the "pod" address.
    const sink = net.createServer((s) => s.resume().on('error', () => undefined));
    const echo = net.createServer((s) => s.on('data', (d) => s.write(d)).on('error', () => undefined));
    for (const [srv, port] of [[sink, 9001], [echo, 9002]] as const) {
      await new Promise<void>((r) => srv.listen(port, SINK_IP, r));
      servers.push(srv);
    }
    const tunnel = new TunnelServer({
      listen: { host: SERVER_IP, port: 0 },
      store: serverStore,
      trustDomain: TD,
      localEndpoint: (ip) => (ip === SINK_IP ? { endpoint: 'payments/payment-service-0', namespace: 'payments', serviceAccount: 'payment-service' } : null),
      endpointByIp: (ip) => (ip === CLIENT_IP ? { endpoint: 'checkout/checkout-service-0', namespace: 'checkout', serviceAccount: 'checkout-service' } : null),
      route: () => null,
      judgeL4: () => null,
      log: pino({ level: 'silent' }),
    });
    await tunnel.start();
    const open = (c: TunnelClient, port: number): Promise<Duplex> =>
      c.open({ source: src, destinationId: dstId, peer: tunnel.address, authority: `${SINK_IP}:${port}`, forwardedFor: `${CLIENT_IP}:1` });

    // 1. Handshakes per CPU-second.
    const tunnelHs = await cpuSeconds(async () => {
      for (let i = 0; i < HANDSHAKES; i++) {
        const c = new TunnelClient(clientStore);
        const s = await open(c, 9001);
        s.destroy();
        c.close();
      }
    });
    const plainServer = tls.createServer({
      cert: dst.certPem,
      key: dst.keyPem,
      ca: root.certPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      secureOptions: (await import('node:crypto')).constants.SSL_OP_NO_TICKET,
    }, (s) => s.end());
    await new Promise<void>((r) => plainServer.listen(0, SERVER_IP, r));
    servers.push(plainServer);
    const plainPort = (plainServer.address() as net.AddressInfo).port;
    const plainHs = await cpuSeconds(async () => {
      for (let i = 0; i < HANDSHAKES; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = tls.connect({ host: SERVER_IP, port: plainPort, cert: src.certPem, key: src.keyPem, ca: root.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
          s.once('secureConnect', () => s.once('close', () => resolve()).resume());
          s.once('error', reject);
        });
      }
    });
    const tps = HANDSHAKES / tunnelHs.cpu;
    const pps = HANDSHAKES / plainHs.cpu;
    log(`handshakes (${HANDSHAKES} each, client+server CPU in this process):`);
    log(`  tunnel session (TLS 1.3 mTLS + h2 + SVID checks both ends + first CONNECT): ${tps.toFixed(0)} per CPU-second (${(HANDSHAKES / tunnelHs.wall).toFixed(0)}/s wall)`);
    log(`  plain TLS 1.3 mTLS handshake, same certificates:                           ${pps.toFixed(0)} per CPU-second (${(HANDSHAKES / plainHs.wall).toFixed(0)}/s wall)`);
    log(`  ratio tunnel/plain TLS: ${(tps / pps).toFixed(2)}`);

    // 2. Throughput.
    const plainTcp = await push(net.connect({ host: SINK_IP, port: 9001, localAddress: CLIENT_IP }));
    const client = new TunnelClient(clientStore);
    const viaTunnel = await push(await open(client, 9001));
    log(`throughput (${BYTES / 1024 / 1024} MiB, one stream): plain TCP ${plainTcp.toFixed(0)} MiB/s, tunnel ${viaTunnel.toFixed(0)} MiB/s, ratio ${(viaTunnel / plainTcp).toFixed(3)}`);

    // 3. Latency.
    const tcpSock = net.connect({ host: SINK_IP, port: 9002, localAddress: CLIENT_IP });
    await new Promise((r) => tcpSock.once('connect', r));
    const tcpLat = await pingPong(tcpSock);
    const tunLat = await pingPong(await open(client, 9002));
    client.close();
    log(`round trip (${ROUNDS} x 1 byte): plain TCP p50 ${pct(tcpLat, 50).toFixed(3)} ms p99 ${pct(tcpLat, 99).toFixed(3)} ms; tunnel p50 ${pct(tunLat, 50).toFixed(3)} ms p99 ${pct(tunLat, 99).toFixed(3)} ms`);
    log(`  added by the tunnel: p50 +${(pct(tunLat, 50) - pct(tcpLat, 50)).toFixed(3)} ms, p99 +${(pct(tunLat, 99) - pct(tcpLat, 99)).toFixed(3)} ms`);
    log('not covered: two network namespaces (this runs on loopback addresses), concurrent streams, SPIRE, rotation, the HTTP proxy behind the tunnel');
    await tunnel.stop();
    serverStore.close();
    clientStore.close();
  } finally {
    for (const s of servers) s.close();
    pki.cleanup();
  }
}
