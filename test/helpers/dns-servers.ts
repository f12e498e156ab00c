/**
 * Real DNS servers from Debian on a loopback address, answering only from local zones and never
 * sending a query off the machine (docs/dns.md "Test peers"): unbound (A/AAAA, a redirect zone,
 * a zone big enough to truncate over UDP) and dnsmasq (CNAME chains answered in one reply).
 * Each runs in the foreground from its own temp directory and is stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildQuery } from '../../proxy/dns/wire.js';

export interface DnsServer {
  host: string;
  port: number;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

/** The zone data every test reads: api.stripe.com A/AAAA, files.stripe.com CNAME, big.example (40 A). */
export const ZONE = {
  api: ['52.1.1.1', '52.1.1.2'],
  api6: '2600:1f18::1',
  bigCount: 40,
};

async function answers(host: string, port: number, name: string): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      s.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.send(buildQuery(4242, name, 1), port, host);
    });
  } finally {
    s.close();
  }
}

async function launch(cmd: string, args: string[], dir: string, host: string, port: number, probe: string): Promise<DnsServer> {
  const child: ChildProcess = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`${cmd} exited ${child.exitCode}: ${out}`);
    }
    if (await answers(host, port, probe)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${cmd} did not answer on ${host}:${port} within 10 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, port, pid: child.pid!, log: () => out, stop };
}

/** unbound on host:port with the stripe.com, wild.example and big.example local zones. */
export async function startUnbound(host: string, port = 5353, extraConfig = '', opts: { apiIps?: readonly string[]; apiTtl?: number } = {}): Promise<DnsServer> {
  const apiIps = opts.apiIps ?? ZONE.api;
  const apiTtl = opts.apiTtl ?? 60;
  const dir = mkdtempSync(join(tmpdir(), 'tendril-unbound-'));
  const big = Array.from({ length: ZONE.bigCount }, (_, i) => `    local-data: "big.example. 30 IN A 10.9.0.${i + 1}"`).join('\n');
  writeFileSync(
    join(dir, 'unbound.conf'),
    `server:
    interface: ${host}@${port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "${dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    num-threads: 1
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    local-zone: "." static
    local-zone: "stripe.com." static
${apiIps.map((ip) => `    local-data: "api.stripe.com. ${apiTtl} IN A ${ip}"`).join('\n')}
    local-data: "api.stripe.com. 60 IN AAAA ${ZONE.api6}"
    local-data: "short.stripe.com. 1 IN A 52.1.1.9"
    local-zone: "wild.example." redirect
    local-data: "wild.example. 30 IN A 10.0.0.9"
    local-zone: "big.example." static
${big}
${extraConfig}
`,
  );
  return launch('unbound', ['-d', '-c', join(dir, 'unbound.conf')], dir, host, port, 'api.stripe.com');
}

/** dnsmasq on host:port: api.stripe.com, files.stripe.com CNAME api.stripe.com, cdn chain two deep. */
export async function startDnsmasq(host: string, port = 5353): Promise<DnsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-dnsmasq-'));
  writeFileSync(
    join(dir, 'dnsmasq.conf'),
    `listen-address=${host}
port=${port}
bind-interfaces
no-resolv
no-hosts
no-negcache
user=root
log-facility=-
local-ttl=60
pid-file=
host-record=api.stripe.com,${ZONE.api[0]},${ZONE.api6},60
cname=files.stripe.com,api.stripe.com
cname=assets.stripe.com,files.stripe.com
local=/stripe.com/
address=/wild.example/10.0.0.9
local=/#/
`,
  );
  return launch('dnsmasq', ['--keep-in-foreground', `--conf-file=${join(dir, 'dnsmasq.conf')}`], dir, host, port, 'api.stripe.com');
}
