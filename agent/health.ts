/**
 * Health and readiness endpoint on loopback: `GET /healthz` (process alive) and `GET /readyz`
 * (every component started; 503 with the ones that are not). `GET /status` returns the agent's
 * status document as JSON (what `tendril status` prints); `GET /metrics` the agent's own metrics
 * (policy changes applied and rejected) in Prometheus text format.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseHostPort, TendrilError } from '../core/index.js';

export interface StatusSource {
  ready(): { ready: boolean; pending: string[] };
  status(): Record<string, unknown>;
  /** Component routes (e.g. `/fqdn/cache`); null = not found. */
  route?(method: string, path: string): Promise<{ code: number; body: unknown } | null>;
  /** Prometheus text exposition of the agent's own metrics (optional). */
  metrics?(): string;
  /** The endpoints this agent knows and their resolved policy (GET /endpoints, /endpoints/<ns>/<pod>). */
  endpoints?(id?: string): unknown;
}

export class HealthServer {
  private server: http.Server | null = null;

  constructor(
    private readonly listenAddress: string,
    private readonly source: StatusSource,
    private readonly log: Logger,
  ) {}

  async start(): Promise<AddressInfo> {
    const hp = parseHostPort(this.listenAddress);
    if (!hp) throw new TendrilError('TND_CONFIG_INVALID', `health.listenAddress: expected host:port, got ${JSON.stringify(this.listenAddress)}`);
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new TendrilError('TND_PROXY_LISTEN', `health endpoint cannot listen on ${this.listenAddress}: ${(err as NodeJS.ErrnoException).code}`, {}, { cause: err })),
      );
      server.listen(hp.port, hp.host, () => resolve());
    });
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.log.info({ address: `${addr.address}:${addr.port}` }, 'health endpoint listening');
    return addr;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (code: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (this.source.route && path !== undefined && path.startsWith('/fqdn/')) {
      this.source.route(req.method ?? 'GET', path).then(
        (r) => send(r?.code ?? 404, r?.body ?? { error: 'not found' }),
        (err: Error) => send(500, { error: err.message }),
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'method not allowed' });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path === '/readyz') {
      const r = this.source.ready();
      return send(r.ready ? 200 : 503, r);
    }
    if (path === '/status') return send(200, this.source.status());
    if (path !== undefined && (path === '/endpoints' || path.startsWith('/endpoints/')) && this.source.endpoints) {
      const id = path === '/endpoints' ? undefined : decodeURIComponent(path.slice('/endpoints/'.length));
      const body = this.source.endpoints(id);
      return body === null ? send(404, { error: `unknown endpoint ${id}` }) : send(200, body);
    }
    if (path === '/metrics' && this.source.metrics) {
      const text = this.source.metrics();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
      return void res.end(text);
    }
    send(404, { error: 'not found', paths: ['/healthz', '/readyz', '/status', '/metrics', '/endpoints'] });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
