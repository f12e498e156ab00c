/**
 * An in-test Kubernetes API server speaking the real list/watch protocol over HTTPS with bearer
 * token auth: paged LISTs (limit/continue) with a resourceVersion, WATCH streams as chunked JSON
 * lines from a resourceVersion (replay, then live), BOOKMARK events when asked for, `410 Gone`
 * (an ERROR Status event) for a resourceVersion older than the last compaction, and merge-patch
 * on the `status` subresource of Cilium policies. A certificate authority and server certificate
 * are made with openssl for 127.0.0.1 and the test's address.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export interface KObj {
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; generation?: number };
  [k: string]: unknown;
}

interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KObj;
}

/** Collection path -> kind of its list items. */
export const COLLECTIONS: Record<string, { kind: string; apiVersion: string; namespaced: boolean }> = {
  '/api/v1/pods': { kind: 'Pod', apiVersion: 'v1', namespaced: true },
  '/api/v1/namespaces': { kind: 'Namespace', apiVersion: 'v1', namespaced: false },
  '/api/v1/services': { kind: 'Service', apiVersion: 'v1', namespaced: true },
  '/api/v1/nodes': { kind: 'Node', apiVersion: 'v1', namespaced: false },
  '/api/v1/serviceaccounts': { kind: 'ServiceAccount', apiVersion: 'v1', namespaced: true },
  '/apis/networking.k8s.io/v1/networkpolicies': { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', namespaced: true },
  '/apis/discovery.k8s.io/v1/endpointslices': { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', namespaced: true },
  '/apis/cilium.io/v2/ciliumnetworkpolicies': { kind: 'CiliumNetworkPolicy', apiVersion: 'cilium.io/v2', namespaced: true },
  '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies': { kind: 'CiliumClusterwideNetworkPolicy', apiVersion: 'cilium.io/v2', namespaced: false },
};

export interface Tls {
  dir: string;
  caFile: string;
  ca: string;
  cert: string;
  key: string;
  cleanup(): void;
}

/** A CA and a server certificate for `host` (an IP), made with openssl. */
export function makeTls(host: string): Tls {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-kapi-'));
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=tendril-test-ca']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=IP:${host},IP:127.0.0.1,DNS:localhost\n`);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(dir, 'server.crt'), 'utf8'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export class FakeApiServer {
  private server: https.Server | null = null;
  private stopping = false;
  private readonly sockets = new Set<Socket>();
  private rv = 100;
  /** Watches before this resourceVersion get 410 Gone. */
  private compactedAt = 0;
  private readonly stores = new Map<string, Map<string, KObj>>();
  private readonly events = new Map<string, Event[]>();
  private readonly watchers = new Set<{ path: string; res: ServerResponse; bookmarks: boolean }>();
  private uid = 0;
  readonly requests: { method: string; url: string; auth: string | undefined }[] = [];
  readonly patches: { path: string; body: unknown; contentType: string | undefined }[] = [];
  url = '';

  constructor(
    private readonly tls: Tls,
    private readonly token: string,
  ) {
    for (const p of Object.keys(COLLECTIONS)) {
      this.stores.set(p, new Map());
      this.events.set(p, []);
    }
  }

  async start(host: string): Promise<void> {
    this.server = https.createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => this.handle(req, res));
    // Every socket is tracked so stop() ends them all, including one a client opens while stopping.
    this.server.on('connection', (sock: Socket) => {
      if (this.stopping) return void sock.destroy();
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, host, () => resolve());
    });
    this.url = `https://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    this.server?.closeAllConnections();
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private keyOf(o: KObj): string {
    return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  }

  /** Creates or replaces an object in a collection and notifies watchers. */
  upsert(path: string, obj: KObj): KObj {
    const store = this.stores.get(path)!;
    const k = this.keyOf(obj);
    const prev = store.get(k);
    const o: KObj = structuredClone(obj);
    o.metadata.resourceVersion = String(++this.rv);
    o.metadata.uid = prev?.metadata.uid ?? `uid-${++this.uid}`;
    o.metadata.generation = (prev?.metadata.generation ?? 0) + (prev && JSON.stringify((prev as Record<string, unknown>).spec) === JSON.stringify((o as Record<string, unknown>).spec) ? 0 : 1);
    if (prev && (prev as Record<string, unknown>).status !== undefined && (o as Record<string, unknown>).status === undefined) (o as Record<string, unknown>).status = (prev as Record<string, unknown>).status;
    store.set(k, o);
    this.emit(path, { rv: this.rv, type: prev ? 'MODIFIED' : 'ADDED', object: o });
    return o;
  }

  remove(path: string, namespace: string | undefined, name: string): void {
    const store = this.stores.get(path)!;
    const k = `${namespace ?? ''}/${name}`;
    const prev = store.get(k);
    if (!prev) return;
    store.delete(k);
    const o = structuredClone(prev);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit(path, { rv: this.rv, type: 'DELETED', object: o });
  }

  get(path: string, namespace: string | undefined, name: string): KObj | undefined {
    return this.stores.get(path)!.get(`${namespace ?? ''}/${name}`);
  }

  /** Forgets history: a watch from an older resourceVersion now gets 410 Gone. Ends open watches. */
  compact(): void {
    this.compactedAt = this.rv + 1;
    for (const p of this.events.keys()) this.events.set(p, []);
    this.closeWatches();
  }

  /** Ends every open watch stream (as the API server does at its timeout). */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that asked for bookmarks. */
  bookmark(): number {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      const c = COLLECTIONS[w.path]!;
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: c.kind, apiVersion: c.apiVersion, metadata: { resourceVersion: String(this.rv) } } })}\n`);
    }
    return this.rv;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  private emit(path: string, ev: Event): void {
    this.events.get(path)!.push(ev);
    for (const w of this.watchers) if (w.path === path) w.res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    const url = new URL(req.url ?? '/', 'https://x');
    if (req.method === 'PATCH') return this.patch(req, res, url.pathname);
    if (req.method !== 'GET') return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
    const c = COLLECTIONS[url.pathname];
    if (!c) return this.status(res, 404, 'NotFound', `${url.pathname} not found`);
    if (url.searchParams.get('watch') === 'true') return this.watch(res, url);
    const all = [...this.stores.get(url.pathname)!.values()].sort((a, b) => (this.keyOf(a) < this.keyOf(b) ? -1 : 1));
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const start = Number(url.searchParams.get('continue') || '0');
    const items = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
    const next = limit > 0 && start + limit < all.length ? String(start + limit) : undefined;
    this.send(res, 200, { kind: `${c.kind}List`, apiVersion: c.apiVersion, metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) }, items });
  }

  private watch(res: ServerResponse, url: URL): void {
    const path = url.pathname;
    const from = Number(url.searchParams.get('resourceVersion') || '0');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < this.compactedAt) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.compactedAt})`, reason: 'Expired', code: 410 } })}\n`);
      return;
    }
    for (const ev of this.events.get(path)!) if (ev.rv > from) res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
    const w = { path, res, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }

  private patch(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      const m = /^\/apis\/cilium\.io\/v2\/(?:namespaces\/([^/]+)\/)?(ciliumnetworkpolicies|ciliumclusterwidenetworkpolicies)\/([^/]+)\/status$/.exec(pathname);
      if (!m) return this.status(res, 404, 'NotFound', `${pathname} not found`);
      const contentType = req.headers['content-type'];
      if (contentType !== 'application/merge-patch+json') return this.status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`);
      const path = `/apis/cilium.io/v2/${m[2]}`;
      const obj = this.get(path, m[1], m[3]!);
      if (!obj) return this.status(res, 404, 'NotFound', `${m[2]} ${m[3]} not found`);
      const patch = JSON.parse(body) as Record<string, unknown>;
      this.patches.push({ path: pathname, body: patch, contentType });
      const next = mergePatch(structuredClone(obj), { status: patch.status }) as KObj;
      const store = this.stores.get(path)!;
      next.metadata.resourceVersion = String(++this.rv);
      store.set(this.keyOf(next), next);
      this.emit(path, { rv: this.rv, type: 'MODIFIED', object: next });
      this.send(res, 200, next);
    });
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A kubeconfig file for the server, with token auth and the CA. */
export function writeKubeconfig(dir: string, server: string, caFile: string, token: string): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "${server}", certificate-authority: "${caFile}"}
users:
- name: tendril
  user: {token: "${token}"}
contexts:
- name: test
  context: {cluster: test, user: tendril}
current-context: test
`,
  );
  return file;
}
