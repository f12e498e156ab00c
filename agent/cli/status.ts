/**
 * `tendril status`: asks a running agent (its health endpoint) for its status, like
 * `cilium status`. Human table by default, `-o json` for machines.
 */
import type { Command } from 'commander';
import { request } from 'undici';
import { CliExit, EXIT, type CliIO } from './context.js';
import { identityRows } from './identity-status.js';

export function registerStatus(program: Command, io: CliIO): void {
  program
    .command('status')
    .description('show the state of the running agent on this node (like `cilium status`)')
    .option('--server <host:port>', "the agent's health endpoint", '127.0.0.1:9879')
    .option('-o, --output <format>', 'text | json', 'text')
    .option('--timeout <ms>', 'give up after this many milliseconds', '3000')
    .option('--verbose', 'also list the watched Kubernetes resources and every invalid policy')
    .action(async (opts: { server: string; output: string; timeout: string; verbose?: boolean }) => {
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
      if (opts.verbose) io.stdout.write(renderVerbose(body));
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
    ...identityRows(s.components as Record<string, unknown> | undefined),
  ];
  const wg = ((s.components ?? {}) as Record<string, unknown>).encryption as WireGuardView | undefined;
  if (wg) rows.splice(rows.findIndex((r) => r[0] === 'Encryption'), 1, ...wireguardRows(wg));
  const changes = policy.changes as { revision?: number; success?: number; failure?: number; lastError?: string | null } | undefined;
  if (changes) {
    rows.push(['Policy changes', `revision ${changes.revision}, ${changes.success} applied, ${changes.failure} rejected${changes.lastError ? `; REJECTED (running set kept): ${changes.lastError}` : ''}`]);
  }
  for (const [name, st] of Object.entries((s.components ?? {}) as Record<string, unknown>)) {
    if (name === 'encryption' && wg) continue;
    rows.push([`  ${name}`, JSON.stringify(st)]);
  }
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(w)}${v}`).join('\n') + '\n';
}

interface WireGuardView {
  interface?: string;
  up?: boolean;
  publicKey?: string;
  listenPort?: number;
  measuredAt?: string | null;
  lastError?: string | null;
  peers?: Array<{ node: string | null; publicKey: string; endpoint: string | null; allowedIps: string[]; lastHandshake: string | null; rxBytes: number; txBytes: number }>;
  skippedNodes?: Array<{ node: string; reason: string }>;
}

/** The encryption rows, as read from the device by the agent (like `cilium status`'s Encryption line). */
function wireguardRows(w: WireGuardView): Array<[string, string]> {
  const peers = w.peers ?? [];
  const rows: Array<[string, string]> = [
    ['Encryption', `Wireguard   ${w.interface} ${w.up ? 'up' : 'DOWN'} (Pubkey: ${w.publicKey}, Port: ${w.listenPort}, Peers: ${peers.length})   measured ${w.measuredAt ?? 'never'}`],
  ];
  for (const p of peers) {
    const hs = p.lastHandshake ? `handshake ${p.lastHandshake}` : 'no handshake';
    rows.push([`  peer ${p.node ?? '?'}`, `${p.endpoint ?? '-'}  ${p.allowedIps.join(',')}  ${hs}  rx ${p.rxBytes} B  tx ${p.txBytes} B  (${p.publicKey})`]);
  }
  for (const sk of w.skippedNodes ?? []) rows.push([`  not peered ${sk.node}`, sk.reason]);
  if (w.lastError) rows.push(['  last error', w.lastError]);
  return rows;
}

/** `--verbose`: the watched resources (kubernetes mode) and the invalid policies, one per line. */
export function renderVerbose(s: Record<string, unknown>): string {
  const out: string[] = [];
  const policy = (s.policy ?? {}) as { changes?: { lastError?: string | null; lastErrorAt?: string | null; lastChange?: string | null } };
  out.push(`Last policy change: ${policy.changes?.lastChange ?? 'none since start'}`);
  if (policy.changes?.lastError) out.push(`Last rejected change (${policy.changes.lastErrorAt}): ${policy.changes.lastError}`);
  const k8s = s.kubernetes as { server?: string; resources?: Record<string, unknown>[]; invalidPolicies?: Record<string, unknown>[] } | undefined;
  if (k8s) {
    out.push(`Kubernetes API: ${k8s.server}`);
    out.push(`  ${'RESOURCE'.padEnd(32)}${'SYNCED'.padEnd(8)}${'OBJECTS'.padEnd(9)}${'RV'.padEnd(12)}${'LISTS'.padEnd(7)}${'WATCHES'.padEnd(9)}${'410'.padEnd(5)}LAST ERROR`);
    for (const r of k8s.resources ?? []) {
      out.push(`  ${String(r.kind).padEnd(32)}${String(r.synced).padEnd(8)}${String(r.objects).padEnd(9)}${String(r.resourceVersion).padEnd(12)}${String(r.lists).padEnd(7)}${String(r.watches).padEnd(9)}${String(r.relistsAfterGone).padEnd(5)}${r.lastError ?? '-'}`);
    }
    for (const p of k8s.invalidPolicies ?? []) out.push(`  invalid ${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}: ${p.error}`);
  }
  return `${out.join('\n')}\n`;
}
