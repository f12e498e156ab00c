/**
 * Real servers on distinct loopback addresses (127.0.0.x models pods). Every server
 * listens on port 0 unless told otherwise and is closed by the returned `close()`; register
 * it with `t.after(close)`.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Started<T> {
  server: T;
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

function closer(server: net.Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      (server as http.Server).closeAllConnections?.();
      server.close(() => resolve());
    });
}

/** Starts a node:http server on host:port (port 0 = any) and resolves once listening. */
export async function startHttpServer(
  handler: http.RequestListener,
  host = '127.0.0.1',
  port = 0,
): Promise<Started<http.Server>> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return { server, host, port: addr.port, url: `http://${host}:${addr.port}`, close: closer(server) };
}

/** Starts a raw TCP server; `onConnection` gets each socket. */
export async function startTcpServer(
  onConnection: (socket: net.Socket) => void,
  host = '127.0.0.1',
  port = 0,
): Promise<Started<net.Server>> {
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return { server, host, port: addr.port, url: `tcp://${host}:${addr.port}`, close: closer(server) };
}

/** Finds a free TCP port on host by binding port 0 and releasing it. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = await startTcpServer(() => undefined, host);
  await s.close();
  return s.port;
}

/** A pod-like loopback address 127.0.<a>.<b>: distinct per test so parallel files don't collide. */
export function podAddress(n: number, subnet = 0): string {
  return `127.0.${subnet}.${n}`;
}

/**
 * Polls a TCP connect to host:port every 50 ms until it succeeds. Throws after `timeoutMs`, or at
 * once when `failed()` returns a reason (e.g. the server process exited).
 */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000, failed: () => string | null = () => null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    const reason = failed();
    if (reason !== null || Date.now() > deadline) throw new Error(`${host}:${port} did not come up: ${reason ?? `no listener after ${timeoutMs} ms`}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
