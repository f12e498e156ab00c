/**
 * `tendril fqdn cache list [-o json]` and `tendril fqdn cache clean`: the running agent's FQDN
 * cache (names learned by the DNS proxy, docs/dns.md), like `cilium fqdn cache list|clean`.
 * Talks to the agent's health endpoint (`/fqdn/cache`, `/fqdn/cache/clean`).
 */
import type { Command } from 'commander';
import { request } from 'undici';
import { CliExit, EXIT, type CliIO } from './context.js';

interface Row {
  name: string;
  source: string;
  ips: { ip: string; ttl: number; ttlLeftSeconds: number; expiresAt: string }[];
}

async function call(server: string, path: string, method: 'GET' | 'POST', timeoutMs: number): Promise<unknown> {
  let res;
  try {
    res = await request(`http://${server}${path}`, { method, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw new CliExit(EXIT.FAILURE, `error: no agent answered at ${server} (${(err as Error).message}); start one with \`tendril agent\``);
  }
  const body = (await res.body.json()) as Record<string, unknown>;
  if (res.statusCode !== 200) throw new CliExit(EXIT.FAILURE, `error: the agent at ${server} answered ${res.statusCode} for ${path}: ${JSON.stringify(body)}`);
  return body;
}

export function renderFqdnCache(rows: Row[]): string {
  const lines: string[][] = [['Endpoint', 'FQDN', 'TTL', 'Expiration Time', 'IPs']];
  for (const r of rows) for (const ip of r.ips) lines.push([r.source, r.name, `${ip.ttlLeftSeconds}/${ip.ttl}`, ip.expiresAt, ip.ip]);
  const w = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(w[i]! + 3))).join('')).join('\n') + '\n';
}

export function registerFqdn(program: Command, io: CliIO): void {
  const fqdn = program.command('fqdn').description('names learned by the DNS proxy (toFQDNs)');
  const cache = fqdn.command('cache').description('the running agent\'s FQDN cache (like `cilium fqdn cache`)');
  cache
    .command('list')
    .description('name, IPs, TTL left and source endpoint of every learned name')
    .option('--server <host:port>', "the agent's health endpoint", '127.0.0.1:9879')
    .option('-o, --output <format>', 'table | json', 'table')
    .option('--timeout <ms>', 'give up after this many milliseconds', '3000')
    .action(async (opts: { server: string; output: string; timeout: string }) => {
      if (opts.output !== 'table' && opts.output !== 'json') throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: -o must be table or json, got ${JSON.stringify(opts.output)}`);
      const body = (await call(opts.server, '/fqdn/cache', 'GET', Number(opts.timeout))) as { entries: Row[] };
      if (opts.output === 'json') io.stdout.write(`${JSON.stringify(body.entries)}\n`);
      else io.stdout.write(renderFqdnCache(body.entries));
    });
  cache
    .command('clean')
    .description('empty the FQDN cache (learned IPs stop being allowed)')
    .option('--server <host:port>', "the agent's health endpoint", '127.0.0.1:9879')
    .option('--timeout <ms>', 'give up after this many milliseconds', '3000')
    .action(async (opts: { server: string; timeout: string }) => {
      const body = (await call(opts.server, '/fqdn/cache/clean', 'POST', Number(opts.timeout))) as { removed: number };
      io.stdout.write(`removed ${body.removed} learned IP entries\n`);
    });
}
