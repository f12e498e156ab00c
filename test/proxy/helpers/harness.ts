/**
 * Integration harness for proxy tests: the seed's payment-service-l7 policy (real YAML, real
 * policy engine), a world with pods on 127.0.<subnet>.x, a recording upstream (node:http) standing
 * for payment-service, and the proxy between them. Everything is closed in t.after.
 */
import { mkdtempSync, copyFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pino from 'pino';
import type { Flow } from '../../../observe/index.js';
import { CallbackSink } from '../../../observe/index.js';
import { createEngine, loadPolicies, loadWorld } from '../../../policy/index.js';
import { describeFromWorld, ExplicitRedirectSource, startProxy, type ProxyOptions, type RunningProxy } from '../../../proxy/index.js';

const SEED_POLICY = new URL('../../../config/examples/seed/02-payment-service-l7.cnp.yaml', import.meta.url).pathname;

export interface SeenRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  /** Body bytes received (counted, not kept). */
  bodyBytes: number;
  complete: boolean;
  aborted: boolean;
  /** Port of the upstream connection the request came on (identifies the connection). */
  remotePort: number;
}

export interface RecordingUpstream {
  host: string;
  port: number;
  requests: SeenRequest[];
  /** Every byte the upstream received, all connections concatenated (latin1). */
  raw(): string;
  connections: number;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void;

const defaultHandler: UpstreamHandler = (req, res, seen) => {
  req.on('end', () => {
    const body = `upstream saw ${seen.method} ${seen.url} (${seen.bodyBytes} bytes)\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
};

export async function startRecordingUpstream(host: string, handler: UpstreamHandler = defaultHandler): Promise<RecordingUpstream> {
  const chunks: Buffer[] = [];
  const requests: SeenRequest[] = [];
  const server = http.createServer({ keepAliveTimeout: 5000 });
  const state = { connections: 0 };
  server.on('connection', (s: net.Socket) => {
    state.connections++;
    s.on('data', (d: Buffer) => chunks.push(d));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, bodyBytes: 0, complete: false, aborted: false, remotePort: req.socket.remotePort ?? 0 };
    requests.push(seen);
    req.on('data', (d: Buffer) => (seen.bodyBytes += d.length));
    req.on('end', () => (seen.complete = true));
    req.on('aborted', () => (seen.aborted = true));
    req.on('error', () => (seen.aborted = true));
    handler(req, res, seen);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    requests,
    raw: () => Buffer.concat(chunks).toString('latin1'),
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SeedHarness {
  proxy: RunningProxy;
  host: string;
  port: number;
  url: string;
  upstream: RecordingUpstream;
  flows: Flow[];
  /** Source address of checkout/checkout-service-0 (allowed GET/POST). */
  checkout: string;
  /** Source address of payments/rogue-0 (no rule: denied). */
  rogue: string;
  /** Address that is no endpoint (world). */
  outsider: string;
  dir: string;
}

export function writeSeedFiles(subnet: number, extraCheckoutIps: string[] = []): { dir: string; policies: string; world: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-proxy-'));
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  copyFileSync(SEED_POLICY, join(policies, '02-payment-service-l7.cnp.yaml'));
  const world = join(dir, 'world.yaml');
  writeFileSync(
    world,
    [
      'endpoints:',
      `  - {name: payment-service-0, namespace: payments, labels: {app: payment-service}, ips: [127.0.${subnet}.10]}`,
      `  - {name: checkout-service-0, namespace: checkout, labels: {app: checkout-service}, ips: [${[`127.0.${subnet}.20`, ...extraCheckoutIps].join(', ')}]}`,
      `  - {name: rogue-0, namespace: payments, labels: {app: rogue}, ips: [127.0.${subnet}.66]}`,
      '',
    ].join('\n'),
  );
  return { dir, policies, world };
}

export async function startSeedHarness(
  t: TestContext,
  subnet: number,
  opts: { limits?: Partial<ProxyOptions>; handler?: UpstreamHandler; /** Send allowed traffic elsewhere (e.g. nginx) instead of the recording upstream. */ upstreamHost?: string; upstreamPort?: number; /** More addresses of checkout (e.g. 127.0.0.1 for clients that cannot bind, like wrk). */ extraCheckoutIps?: string[] } = {},
): Promise<SeedHarness> {
  const files = writeSeedFiles(subnet, opts.extraCheckoutIps);
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const world = loadWorld(files.world);
  const engine = createEngine({ policies: loadPolicies([files.policies]), world });
  const upstream = await startRecordingUpstream(`127.0.${subnet}.10`, opts.handler);
  t.after(() => upstream.close());
  const flows: Flow[] = [];
  const proxy = await startProxy({
    engine,
    log: pino({ level: process.env.TENDRIL_TEST_LOG ?? 'silent' }),
    flows: new CallbackSink((f) => flows.push(f)),
    describe: describeFromWorld(world),
    limits: opts.limits,
    redirects: [
      {
        listen: { host: `127.0.${subnet}.1`, port: 0 },
        protocol: 'http',
        source: new ExplicitRedirectSource(
          { destinationEndpoint: 'payments/payment-service-0', destinationPort: 8080, upstream: { host: opts.upstreamHost ?? upstream.host, port: opts.upstreamPort ?? upstream.port } },
          (ip) => engine.endpointByIp(ip),
        ),
      },
    ],
  });
  t.after(() => proxy.close());
  const a = proxy.listeners[0]!.address;
  return {
    proxy,
    host: a.host,
    port: a.port,
    url: `http://${a.host}:${a.port}`,
    upstream,
    flows,
    checkout: `127.0.${subnet}.20`,
    rogue: `127.0.${subnet}.66`,
    outsider: `127.0.${subnet}.99`,
    dir: files.dir,
  };
}

/**
 * Sends raw bytes from `localAddress`, half-closes (unless keepOpen), and collects everything the
 * proxy answers until it closes the connection or `timeoutMs` passes.
 */
export function rawExchange(
  host: string,
  port: number,
  localAddress: string,
  bytes: string | Buffer,
  opts: { timeoutMs?: number; keepOpen?: boolean; untilResponses?: number } = {},
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host, port, localAddress });
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 3000);
    s.on('connect', () => {
      s.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
      if (!opts.keepOpen) s.end();
    });
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (opts.untilResponses !== undefined && statusCodes(Buffer.concat(chunks).toString('latin1')).length >= opts.untilResponses) finish();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** Status codes of every response head in a raw byte stream, in order (final and 1xx). */
export function statusCodes(text: string): number[] {
  return [...text.matchAll(/(?:^|\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}
