/**
 * Runs Debian's nginx as a real upstream on a 127.0.0.x address with a temp config and prefix
 * (no root paths touched); it answers with what it received so tests see the forwarded form.
 * Stopped (SIGQUIT then SIGKILL) and its directory removed in t.after.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort, waitForPort } from '../../helpers/servers.js';

export async function startNginx(t: TestContext, host: string): Promise<{ host: string; port: number }> {
  const port = await freePort(host);
  const dir = mkdtempSync(join(tmpdir(), 'tendril-nginx-'));
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen ${host}:${port};
    location / {
      default_type text/plain;
      return 200 "nginx saw $request_method $request_uri host=$http_host\\n";
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForPort(host, port, 5000, () => (child.exitCode !== null ? `nginx did not start: ${stderr}` : null));
  return { host, port };
}
