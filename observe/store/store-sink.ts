/**
 * StoreSink: feeds the retained flow store without touching SQLite on the event loop. `emit`
 * only pushes the flow onto an in-memory batch. Every `flushIntervalMs` (default 200 ms: short, so
 * pending flows die young for the GC), or on the next tick once `batchSize` (1,000) flows wait,
 * the batch is posted as one JSON string to a worker thread (store-worker.ts) that builds the
 * rows and writes them in one transaction, maintaining the hourly pairs aggregate.
 *
 * Crash-loss bound: a crash of the agent process loses the flows not yet committed: those
 * emitted since the last flush (at most `flushIntervalMs`, default 200 ms) plus the batches handed
 * to the worker and not yet committed, and never more than `maxPending` flows (default 100,000)
 * in total. With WAL and synchronous=NORMAL an OS crash or power loss may additionally roll back
 * the last committed transactions. Beyond `maxPending` flows are dropped and counted in `lost`:
 * the store never applies backpressure to the data path.
 * Retention: at start and every `pruneIntervalMs` (default 1 h) the worker deletes flows older
 * than `retentionMs` (and pair hours wholly older).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { TendrilError } from '../../core/index.js';
import type { Flow } from '../flow.js';
import type { HttpFlowRecord } from '../http-flow.js';
import type { FlowSink } from '../sink.js';
import { redactUrl } from './pg-store.js';

export interface StoreSinkOptions {
  /** SQLite file (created with its directory when missing); ignored when `url` is set. */
  path: string;
  /** PostgreSQL URL (`postgres://...`): the store lives there instead. */
  url?: string;
  retentionMs: number;
  batchSize?: number;
  flushIntervalMs?: number;
  maxPending?: number;
  pruneIntervalMs?: number;
}

type Reply = { kind: 'done' | 'failed'; id: number; n: number; message?: string } | { kind: 'ready' } | { kind: 'open-failed'; message: string };

/** The worker entry, run through tsx when this module itself runs from TypeScript source. */
function workerSource(): string {
  const isTs = import.meta.url.endsWith('.ts');
  const entry = new URL(`./store-worker.${isTs ? 'ts' : 'js'}`, import.meta.url).href;
  if (!isTs) return `import(${JSON.stringify(entry)})`;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`;
}

export class StoreSink implements FlowSink {
  readonly enabled = true;
  /** Flows dropped because more than maxPending were waiting, or because a write failed. */
  lost = 0;
  /** Flows committed. */
  written = 0;
  private pending: Flow[] = [];
  /** The HttpFlowRecord of each pending flow emitted through `emitHttp` (else undefined). */
  private pendingRecs: (HttpFlowRecord | undefined)[] = [];
  private recCount = 0;
  private inflight = 0;
  private readonly batchSize: number;
  private readonly maxPending: number;
  private flushTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, (r: { n: number; failed: boolean }) => void>();
  private readonly log: Logger;

  constructor(private readonly opts: StoreSinkOptions, log: Logger) {
    this.batchSize = opts.batchSize ?? 1000;
    this.maxPending = opts.maxPending ?? 100_000;
    this.log = log.child({ component: 'observe.store' });
  }

  emit(flow: Flow): void {
    this.add(flow, undefined);
  }

  /** Fast path: the record goes to the writer thread instead of the flow's JSON (see flush). */
  emitHttp(flow: Flow, rec: HttpFlowRecord): void {
    this.add(flow, rec);
  }

  private add(flow: Flow, rec: HttpFlowRecord | undefined): void {
    if (this.pending.length + this.inflight >= this.maxPending) {
      this.lost++;
      return;
    }
    this.pending.push(flow);
    this.pendingRecs.push(rec);
    if (rec !== undefined) this.recCount++;
    if (this.pending.length >= this.batchSize && this.immediate === null && this.worker) {
      this.immediate = setImmediate(() => {
        this.immediate = null;
        void this.flush();
      });
    }
  }

  /** Starts the writer thread (rejects with TND_OBSERVE_STORE if the store cannot be opened). */
  async start(): Promise<void> {
    const worker = new Worker(workerSource(), { eval: true, workerData: { path: this.opts.path, url: this.opts.url } });
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string): void => {
        void worker.terminate();
        reject(new TendrilError('TND_OBSERVE_STORE', message, this.opts.url ? { url: redactUrl(this.opts.url) } : { file: this.opts.path }));
      };
      worker.once('error', (err) => fail(`${this.opts.url ? redactUrl(this.opts.url) : this.opts.path}: flow store writer failed to start: ${err.message}`));
      worker.once('message', (m: Reply) => (m.kind === 'ready' ? resolve() : fail('message' in m && m.message ? m.message : 'flow store writer failed')));
    });
    worker.on('message', (m: Reply) => {
      if (m.kind !== 'done' && m.kind !== 'failed') return;
      const cb = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      // Keep the process alive only while a reply is awaited (an idle writer never holds it).
      if (this.waiting.size === 0) worker.unref();
      if (m.kind === 'failed') this.log.error({ error: m.message, flows: m.n }, 'flow store write failed; batch dropped');
      cb?.({ n: m.n, failed: m.kind === 'failed' });
    });
    worker.on('error', (err) => this.log.error({ err }, 'flow store writer crashed'));
    worker.unref();
    this.worker = worker;
    this.flushTimer = setInterval(() => void this.flush(), this.opts.flushIntervalMs ?? 200);
    this.flushTimer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), this.opts.pruneIntervalMs ?? 3_600_000);
    this.pruneTimer.unref();
    await this.prune();
  }

  /** Posts `msg` to the writer; when it cannot be cloned, posts `fallback()` instead. */
  private call(msg: Record<string, unknown>, fallback?: () => Record<string, unknown>): Promise<{ n: number; failed: boolean }> {
    const worker = this.worker;
    if (!worker) return Promise.resolve({ n: 0, failed: true });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.ref();
      try {
        worker.postMessage({ ...msg, id });
      } catch (err) {
        try {
          if (!fallback) throw err;
          worker.postMessage({ ...fallback(), id });
        } catch (err2) {
          this.waiting.delete(id);
          if (this.waiting.size === 0) worker.unref();
          this.log.error({ err: err2 }, 'flow store batch could not be handed to the writer; dropped');
          resolve({ n: 0, failed: true });
        }
      }
    });
  }

  /**
   * The write message for a batch: one JSON string of all flows, or, when some flows came with
   * an HttpFlowRecord, `items` (the record, or the flow's JSON) and `nodes` (each flow's
   * node_name): the writer rebuilds those flows with `buildHttpFlow`, so the event loop neither
   * serializes them nor copies their shared parts more than once per batch (structured clone
   * keeps shared references).
   */
  private writeMessage(batch: Flow[], recs: (HttpFlowRecord | undefined)[], withRecs: boolean): Record<string, unknown> {
    if (!withRecs) return { kind: 'write', json: JSON.stringify(batch) };
    const items: (HttpFlowRecord | string)[] = new Array(batch.length);
    const nodes: string[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const r = recs[i];
      items[i] = r === undefined ? JSON.stringify(batch[i]) : r;
      nodes[i] = batch[i]!.node_name;
    }
    return { kind: 'write', items, nodes };
  }

  /** Hands everything pending to the writer; resolves when it is committed. */
  async flush(): Promise<void> {
    const calls: Promise<void>[] = [];
    while (this.pending.length > 0 && this.worker) {
      const whole = this.pending.length <= this.batchSize;
      const batch = whole ? this.pending : this.pending.slice(0, this.batchSize);
      const recs = whole ? this.pendingRecs : this.pendingRecs.slice(0, this.batchSize);
      this.pending = whole ? [] : this.pending.slice(this.batchSize);
      this.pendingRecs = whole ? [] : this.pendingRecs.slice(this.batchSize);
      const withRecs = this.recCount > 0;
      if (whole) this.recCount = 0;
      this.inflight += batch.length;
      // Generic flows: one JSON string per batch, cheaper to hand over than a structured clone.
      calls.push(
        this.call(this.writeMessage(batch, recs, withRecs), () => this.writeMessage(batch, [], false)).then((r) => {
          this.inflight -= batch.length;
          if (r.failed) this.lost += batch.length;
          else this.written += r.n;
        }),
      );
    }
    await Promise.all(calls);
  }

  /** Deletes flows older than the retention period; resolves to the number deleted. */
  async prune(): Promise<number> {
    const r = await this.call({ kind: 'prune', cutoffUs: (Date.now() - this.opts.retentionMs) * 1000 });
    if (r.n > 0) this.log.info({ deleted: r.n, retentionMs: this.opts.retentionMs }, 'flow store pruned');
    return r.n;
  }

  /** Flushes what is pending, closes the store and ends the writer thread. */
  async stop(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.flushTimer = this.pruneTimer = this.immediate = null;
    await this.flush();
    if (this.worker) {
      await this.call({ kind: 'close' });
      await this.worker.terminate();
      this.worker = null;
    }
  }
}
