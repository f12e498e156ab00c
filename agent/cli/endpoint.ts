/**
 * `tendril endpoint list|get`: the endpoints the running agent enforces policy for (like
 * `cilium endpoint list|get`), read from its health endpoint. Table for people, `-o json` for
 * machines.
 */
import type { Command } from 'commander';
import { request } from 'undici';
import { CliExit, EXIT, type CliIO } from './context.js';
import { formatTable } from './policy-format.js';
import type { EndpointRow } from '../endpoints-view.js';

async function fetchJson(server: string, path: string, timeout: number): Promise<{ code: number; body: any }> {
  try {
    const res = await request(`http://${server}${path}`, { headersTimeout: timeout, bodyTimeout: timeout });
    return { code: res.statusCode, body: await res.body.json() };
  } catch (err) {
    throw new CliExit(EXIT.FAILURE, `error: no agent answered at ${server} (${(err as Error).message}); start one with \`tendril agent\``);
  }
}

export function registerEndpoint(program: Command, io: CliIO): void {
  const ep = program.command('endpoint').description('endpoints the running agent enforces policy for (like `cilium endpoint`)');
  const common = (c: Command): Command =>
    c
      .option('--server <host:port>', "the agent's health endpoint", '127.0.0.1:9879')
      .option('-o, --output <format>', 'text | json', 'text')
      .option('--timeout <ms>', 'give up after this many milliseconds', '3000');
  common(ep.command('list').description('every endpoint: identity, addresses, node, named ports, enforcement')).action(
    async (opts: { server: string; output: string; timeout: string }) => {
      const { body } = await fetchJson(opts.server, '/endpoints', Number(opts.timeout));
      if (opts.output === 'json') return void io.stdout.write(`${JSON.stringify(body)}\n`);
      const rows = (body.endpoints as EndpointRow[]).map((r) => [r.endpoint, String(r.identity ?? '-'), r.ips.join(','), r.node ?? '-', r.ingress, r.egress, r.ports.join(',') || '-']);
      io.stdout.write(formatTable(['ENDPOINT', 'IDENTITY', 'IPS', 'NODE', 'INGRESS', 'EGRESS', 'NAMED PORTS'], rows));
    },
  );
  common(ep.command('get').argument('<endpoint>', '<namespace>/<pod>').description('one endpoint with its identity labels and resolved rules')).action(
    async (id: string, opts: { server: string; output: string; timeout: string }) => {
      const { code, body } = await fetchJson(opts.server, `/endpoints/${encodeURIComponent(id)}`, Number(opts.timeout));
      if (code === 404) throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: unknown endpoint ${id}`);
      if (opts.output === 'json') return void io.stdout.write(`${JSON.stringify(body)}\n`);
      const p = body.policy as { identity: string[]; ingress: { mode: string; entries: Record<string, string>[] }; egress: { mode: string; entries: Record<string, string>[] } };
      io.stdout.write(`Endpoint:  ${body.endpoint}\nIdentity:  ${body.identity} (${p.identity.join(' ')})\nIPs:       ${body.ips.join(', ')}\nNode:      ${body.node ?? '-'}\nIngress:   ${p.ingress.mode}\nEgress:    ${p.egress.mode}\n\n`);
      const entries = [...p.ingress.entries, ...p.egress.entries];
      io.stdout.write(formatTable(['DIRECTION', 'ACTION', 'PEERS', 'PORTS', 'L7', 'AUTH', 'POLICY', 'RULE'], entries.map((e) => [e.direction, e.action, e.peers, e.ports, e.l7, e.auth, e.policy, e.rule] as string[])));
    },
  );
}
