/**
 * `tendril demo-upstream`: a tiny HTTP app that answers every request with a JSON echo of what
 * it received (method, path, headers), for trying L7 policies with curl against the example
 * cluster (e.g. payment-service on 127.0.1.10:8080) without writing a server.
 */
import type { Command } from 'commander';
import http from 'node:http';
import { parseHostPort } from '../../core/index.js';
import { CliExit, EXIT, type CliIO } from './context.js';

export function registerDemo(program: Command, io: CliIO): void {
  program
    .command('demo-upstream')
    .description('run a small echo HTTP app to stand in for a pod (e.g. payment-service) behind the proxy')
    .option('--listen <host:port>', 'address to listen on', '127.0.1.10:8080')
    .option('--name <name>', 'name reported in responses', 'payment-service')
    .action(async (opts: { listen: string; name: string }) => {
      const hp = parseHostPort(opts.listen);
      if (!hp) throw new CliExit(EXIT.USAGE, `error: --listen: expected host:port, got ${JSON.stringify(opts.listen)}`);
      const server = http.createServer((req, res) => {
        let size = 0;
        req.on('data', (c: Buffer) => (size += c.length));
        req.on('end', () => {
          const body = JSON.stringify({ app: opts.name, method: req.method, path: req.url, host: req.headers.host, bodyBytes: size }) + '\n';
          res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new CliExit(EXIT.FAILURE, `error: cannot listen on ${opts.listen}: ${(err as NodeJS.ErrnoException).code}`)));
        server.listen(hp.port, hp.host, () => resolve());
      });
      io.stderr.write(`demo-upstream ${opts.name} listening on ${opts.listen}\n`);
      const stop = (): void => {
        server.closeAllConnections();
        server.close(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise<void>(() => undefined);
    });
}
