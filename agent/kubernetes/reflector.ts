/**
 * One resource kept in sync with the API server, the way client-go's reflector does it
 * (docs/kubernetes.md "Watches"): a paged LIST (limit/continue) gives the store and a
 * resourceVersion; a WATCH from that version (allowWatchBookmarks) applies ADDED / MODIFIED /
 * DELETED and moves the version on BOOKMARK; 410 Gone (an ERROR event or the HTTP status) means
 * the version expired, so the reflector relists; any other failure re-watches from the last
 * version after an exponential backoff with jitter; a periodic resync relists to repair drift.
 * Lists go through @kubernetes/client-node's typed APIs, watches through its `Watch`.
 */
import type { Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; generation?: number };
  [k: string]: unknown;
}

export interface ListPage {
  items: KubeObject[];
  resourceVersion: string;
  continueToken?: string;
}

export interface ResourceSpec {
  /** Kind name for logs and status (`Pod`, `CiliumNetworkPolicy`, ...). */
  kind: string;
  apiVersion: string;
  /** Cluster-wide watch path, e.g. `/api/v1/pods`. */
  path: string;
  list(opts: { limit: number; continueToken?: string }): Promise<ListPage>;
}

export interface ReflectorStats {
  kind: string;
  synced: boolean;
  objects: number;
  resourceVersion: string;
  lists: number;
  watches: number;
  relistsAfterGone: number;
  errors: number;
  lastError: string | null;
}

export interface ReflectorOptions {
  pageSize?: number;
  resyncMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

const key = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class Reflector {
  readonly store = new Map<string, KubeObject>();
  private rv = '';
  private stopped = false;
  private abort: { abort(): void } | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private firstSync: Promise<void>;
  private resolveFirst!: () => void;
  private needList = true;
  private wake: (() => void) | null = null;
  readonly stats: ReflectorStats;

  constructor(
    private readonly spec: ResourceSpec,
    private readonly watch: Watch,
    private readonly onChange: (kind: string) => void,
    private readonly log: Logger,
    private readonly opts: ReflectorOptions = {},
  ) {
    this.backoffMs = opts.backoffMinMs ?? 200;
    this.firstSync = new Promise((r) => (this.resolveFirst = r));
    this.stats = { kind: spec.kind, synced: false, objects: 0, resourceVersion: '', lists: 0, watches: 0, relistsAfterGone: 0, errors: 0, lastError: null };
  }

  /** Resolves after the first complete list. */
  synced(): Promise<void> {
    return this.firstSync;
  }

  start(): void {
    void this.loop();
    const resync = this.opts.resyncMs ?? 600_000;
    if (resync > 0) {
      this.resyncTimer = setInterval(() => {
        this.needList = true;
        this.abort?.abort();
      }, resync);
      this.resyncTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.abort?.abort();
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.needList) await this.list();
        if (this.stopped) return; // stopped while listing: open no watch
        const outcome = await this.watchOnce();
        if (outcome === 'gone') {
          this.stats.relistsAfterGone++;
          this.needList = true;
          this.log.info({ kind: this.spec.kind, resourceVersion: this.rv }, 'watch resourceVersion expired (410 Gone); relisting');
          continue;
        }
        if (outcome === 'closed') {
          this.backoffMs = this.opts.backoffMinMs ?? 200;
          continue; // the server ended the watch (timeout): re-watch from the last version
        }
      } catch (err) {
        if (this.stopped) return;
        const gone = (err as { statusCode?: number; code?: number }).statusCode === 410 || (err as { code?: number }).code === 410;
        if (gone) {
          this.stats.relistsAfterGone++;
          this.needList = true;
          continue;
        }
        this.stats.errors++;
        this.stats.lastError = (err as Error).message ?? String(err);
        this.log.warn({ kind: this.spec.kind, err: this.stats.lastError, retryInMs: this.backoffMs }, 'list/watch failed; retrying');
        await this.sleep(this.backoffMs * (0.8 + Math.random() * 0.4));
        this.backoffMs = Math.min(this.backoffMs * 2, this.opts.backoffMaxMs ?? 30_000);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async list(): Promise<void> {
    const next = new Map<string, KubeObject>();
    let continueToken: string | undefined;
    let rv = '';
    do {
      const page = await this.spec.list({ limit: this.opts.pageSize ?? 500, continueToken });
      for (const item of page.items) {
        const o = { apiVersion: this.spec.apiVersion, kind: this.spec.kind, ...item };
        next.set(key(o), o);
      }
      continueToken = page.continueToken || undefined;
      rv = page.resourceVersion;
    } while (continueToken);
    this.stats.lists++;
    this.store.clear();
    for (const [k, v] of next) this.store.set(k, v);
    this.rv = rv;
    this.needList = false;
    this.backoffMs = this.opts.backoffMinMs ?? 200;
    this.stats.objects = this.store.size;
    this.stats.resourceVersion = rv;
    this.stats.synced = true;
    this.resolveFirst();
    this.onChange(this.spec.kind);
  }

  /** One watch request; resolves when it ends ('closed'), on 410 ('gone'); rejects on errors. */
  private watchOnce(): Promise<'closed' | 'gone'> {
    return new Promise((resolve, reject) => {
      let gone = false;
      let settled = false;
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        this.abort = null;
        if (gone) resolve('gone');
        else if (this.stopped || this.needList) resolve('closed');
        else if (err && (err as { name?: string }).name !== 'AbortError') reject(err);
        else resolve('closed');
      };
      this.stats.watches++;
      this.watch
        .watch(
          this.spec.path,
          { resourceVersion: this.rv, allowWatchBookmarks: true },
          (type: string, obj: KubeObject) => {
            if (type === 'ERROR') {
              const code = (obj as { code?: number }).code;
              if (code === 410) gone = true;
              else {
                this.stats.errors++;
                this.stats.lastError = String((obj as { message?: string }).message ?? 'watch ERROR event');
              }
              this.abort?.abort();
              return;
            }
            const rv = obj.metadata?.resourceVersion;
            if (type === 'BOOKMARK') {
              if (rv) this.rv = this.stats.resourceVersion = rv;
              return;
            }
            const o = { apiVersion: this.spec.apiVersion, kind: this.spec.kind, ...obj };
            if (type === 'ADDED' || type === 'MODIFIED') this.store.set(key(o), o);
            else if (type === 'DELETED') this.store.delete(key(o));
            else return;
            if (rv) this.rv = this.stats.resourceVersion = rv;
            this.stats.objects = this.store.size;
            this.onChange(this.spec.kind);
          },
          (err: unknown) => finish(err),
        )
        .then(
          (controller) => {
            if (settled) return;
            this.abort = controller;
            if (this.stopped || this.needList) controller.abort();
          },
          (err: unknown) => finish(err),
        );
    });
  }
}
