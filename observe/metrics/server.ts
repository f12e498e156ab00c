/** Serves a FlowMetrics registry at GET /metrics on its own listener (default 127.0.0.1:9965). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseHostPort, TendrilError } from '../../core/index.js';
import type { FlowMetrics } from './flow-metrics.js';

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9965';

export class MetricsServer {
  private server: Server | null = null;
  private readonly log: Logger;
  address = '';

  constructor(private readonly metrics: FlowMetrics, private readonly listen: string, log: Logger) {
    this.log = log.child({ component: 'observe.metrics' });
  }

  start(): Promise<string> {
    const hp = parseHostPort(this.listen);
    if (!hp) return Promise.reject(new TendrilError('TND_OBSERVE_LISTEN', `hubble.metrics.listenAddress: want host:port, got ${JSON.stringify(this.listen)}`, { field: 'hubble.metrics.listenAddress' }));
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
        return;
      }
      this.metrics.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body),
        (err: unknown) => {
          this.log.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new TendrilError('TND_OBSERVE_LISTEN', `metrics could not listen on ${this.listen}: ${err.message}`, { address: this.listen }, { cause: err })));
      server.listen(hp.port, hp.host, () => {
        const a = server.address() as AddressInfo;
        this.address = `${a.address}:${a.port}`;
        this.log.info({ address: this.address }, 'metrics listening');
        resolve(this.address);
      });
    });
  }

  stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
