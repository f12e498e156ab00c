/**
 * `tendril status`: asks a running agent (its health endpoint) for its status, like
 * `cilium status`. Human table by default, `-o json` for machines.
 */
import type { Command } from 'commander';
import { request } from 'undici';
import { CliExit, EXIT, type CliIO } from './context.js';

export function registerStatus(program: Command, io: CliIO): void {
  program
    .command('status')
    .description('show the state of the running agent on this node (like `cilium status`)')
    .option('--server <host:port>', "the agent's health endpoint", '127.0.0.1:9879')
    .option('-o, --output <format>', 'text | json', 'text')
    .option('--timeout <ms>', 'give up after this many milliseconds', '3000')
    .action(async (opts: { server: string; output: string; timeout: string }) => {
      let body: Record<string, unknown>;
      try {
        const res = await request(`http://${opts.server}/status`, { headersTimeout: Number(opts.timeout), bodyTimeout: Number(opts.timeout) });
        body = (await res.body.json()) as Record<string, unknown>;
      } catch (err) {
        throw new CliExit(EXIT.FAILURE, `error: no agent answered at ${opts.server} (${(err as Error).message}); start one with \`tendril agent\``);
      }
      if (opts.output === 'json') {
        io.stdout.write(`${JSON.stringify(body)}\n`);
        return;
      }
      io.stdout.write(renderStatus(body));
    });
}

export function renderStatus(s: Record<string, unknown>): string {
  const policy = (s.policy ?? {}) as Record<string, unknown>;
  const hubble = (s.hubble ?? {}) as { enabled?: boolean; listenAddress?: string; metrics?: { enabled?: string[]; listenAddress?: string } };
  const enc = (s.encryption ?? {}) as { enabled?: boolean; type?: string };
  const rows: Array<[string, string]> = [
    ['Agent', `${s.ready ? 'Ok' : 'Not ready'}   mode=${s.mode} node=${s.nodeName} uptime=${s.uptimeSeconds}s`],
    ['KubeProxyReplacement', s.kubeProxyReplacement ? 'True' : 'False'],
    ['Policies', `${policy.policies ?? 0} documents, ${policy.endpoints ?? 0} endpoints`],
    ['Hubble', hubble.enabled ? `Ok   Observer at ${hubble.listenAddress}` : 'Disabled'],
    ['Hubble metrics', hubble.metrics?.enabled?.length ? `${hubble.metrics.listenAddress}  ${hubble.metrics.enabled.join(', ')}` : 'Disabled'],
    ['Encryption', enc.enabled ? `${enc.type}` : 'Disabled'],
  ];
  const changes = policy.changes as { revision?: number; success?: number; failure?: number; lastError?: string | null } | undefined;
  if (changes) {
    rows.push(['Policy changes', `revision ${changes.revision}, ${changes.success} applied, ${changes.failure} rejected${changes.lastError ? `; REJECTED (running set kept): ${changes.lastError}` : ''}`]);
  }
  for (const [name, st] of Object.entries((s.components ?? {}) as Record<string, unknown>)) {
    rows.push([`  ${name}`, JSON.stringify(st)]);
  }
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(w)}${v}`).join('\n') + '\n';
}
