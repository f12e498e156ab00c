/**
 * StoreSink: feeds the FlowStore without touching SQLite on the emit path. `emit` only pushes
 * the flow onto a bounded in-memory batch; a timer (every `flushIntervalMs`, or on the next tick
 * once `batchSize` flows are waiting) turns the batch into rows and writes it in one transaction.
 *
 * Crash-loss bound: a process crash loses at most the flows emitted since the last flush, i.e.
 * at most `flushIntervalMs` (default 1 s) worth of flows and never more than `maxPending`
 * (default 100,000). With WAL and synchronous=NORMAL, an OS crash or power loss may additionally
 * roll back the last committed transactions. Flows beyond `maxPending` are dropped and counted
 * in `lost` (the store never applies backpressure to the data path).
 * Retention: every `pruneIntervalMs` (default 1 h) flows older than `retentionMs` are deleted in
 * chunks of 50,000 rows, one chunk per tick.
 */
import type { Logger } from 'pino';
import type { Flow } from '../flow.js';
import type { FlowSink } from '../sink.js';
import type { FlowStore } from './flow-store.js';
import { toRow, type FlowRow } from './row.js';

export interface StoreSinkOptions {
  retentionMs: number;
  batchSize?: number;
  flushIntervalMs?: number;
  maxPending?: number;
  pruneIntervalMs?: number;
}

export class StoreSink implements FlowSink {
  readonly enabled = true;
  /** Flows dropped because more than maxPending were waiting, or because a write failed. */
  lost = 0;
  /** Flows written. */
  written = 0;
  private pending: Flow[] = [];
  private readonly batchSize: number;
  private readonly maxPending: number;
  private flushTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly log: Logger;

  constructor(private readonly store: FlowStore, private readonly opts: StoreSinkOptions, log: Logger) {
    this.batchSize = opts.batchSize ?? 5000;
    this.maxPending = opts.maxPending ?? 100_000;
    this.log = log.child({ component: 'observe.store' });
  }

  emit(flow: Flow): void {
    if (this.pending.length >= this.maxPending) {
      this.lost++;
      return;
    }
    this.pending.push(flow);
    if (this.pending.length >= this.batchSize && this.immediate === null) {
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
    }
  }

  /** Starts the flush and prune timers and prunes once. */
  start(): void {
    this.flushTimer = setInterval(() => this.flush(), this.opts.flushIntervalMs ?? 1000);
    this.flushTimer.unref();
    this.pruneTimer = setInterval(() => this.pruneAsync(), this.opts.pruneIntervalMs ?? 3_600_000);
    this.pruneTimer.unref();
    this.pruneAsync();
  }

  /** Writes everything pending now (one transaction per batchSize flows). */
  flush(): void {
    while (this.pending.length > 0) {
      const batch = this.pending.length <= this.batchSize ? this.pending : this.pending.slice(0, this.batchSize);
      this.pending = batch === this.pending ? [] : this.pending.slice(this.batchSize);
      const rows: FlowRow[] = [];
      for (const f of batch) {
        const r = toRow(f);
        if (r) rows.push(r);
      }
      try {
        this.store.insert(rows);
        this.written += rows.length;
      } catch (err) {
        this.lost += rows.length;
        this.log.error({ err, flows: rows.length }, 'flow store write failed; batch dropped');
      }
    }
  }

  private pruneAsync(): void {
    const cutoffUs = (Date.now() - this.opts.retentionMs) * 1000;
    let total = 0;
    const step = (): void => {
      try {
        const n = this.store.pruneStep(cutoffUs);
        total += n;
        if (n === 50_000 && this.pruneTimer !== null) {
          setImmediate(step);
          return;
        }
        if (total > 0) this.log.info({ deleted: total, retentionMs: this.opts.retentionMs }, 'flow store pruned');
      } catch (err) {
        this.log.error({ err }, 'flow store prune failed');
      }
    };
    step();
  }

  /** Flushes what is pending and stops the timers (the store stays open). */
  stop(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.flushTimer = this.pruneTimer = this.immediate = null;
    this.flush();
  }
}
