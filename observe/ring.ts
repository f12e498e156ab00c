/**
 * The per-agent flow ring buffer (Hubble's "current/max flows"): the last `capacity` flows
 * addressed by a monotonically increasing sequence number, kept in column storage
 * (flow-slots.ts) so that retaining them costs the GC little. Readers never block the writer.
 * A reader (e.g. a GetFlows --follow stream) keeps its own cursor; if the writer laps it, the
 * overwritten flows are reported to that reader as lost (LostEvent source HUBBLE_RING_BUFFER) and counted in `lost`.
 */
import type { Flow } from './flow.js';
import type { FlowSink } from './sink.js';
import { FlowSlots } from './flow-slots.js';

export const DEFAULT_RING_CAPACITY = 4096;

/** What a cursor read returns: the flows from the cursor on, and how many it missed. */
export interface RingRead {
  flows: Flow[];
  /** Flows overwritten before this reader got to them. */
  lost: number;
  /** The cursor to read from next time. */
  next: number;
}

export class FlowRing implements FlowSink {
  readonly enabled = true;
  readonly capacity: number;
  private readonly slots: FlowSlots;
  /** Sequence number the next flow gets (= flows seen since start). */
  private head = 0;
  /** Flows overwritten before a reader read them, plus losses reported by producers. */
  lost = 0;
  /** Lost events by LostEventSource name (HUBBLE_RING_BUFFER: lapped readers). */
  private readonly lostCounts = new Map<string, number>([['HUBBLE_RING_BUFFER', 0]]);
  private readonly waiters = new Set<() => void>();
  private wakeScheduled = false;
  readonly startedAt = Date.now();

  constructor(capacity = DEFAULT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.slots = new FlowSlots(capacity);
  }

  /** Flows seen since start (`seen_flows`). */
  get seen(): number {
    return this.head;
  }

  /** Flows currently held (`num_flows`). */
  get size(): number {
    return Math.min(this.head, this.capacity);
  }

  /** Sequence number of the oldest flow still held. */
  get oldest(): number {
    return Math.max(0, this.head - this.capacity);
  }

  /** Sequence number the next written flow will get. */
  get next(): number {
    return this.head;
  }

  emit(flow: Flow): void {
    this.slots.put(this.head % this.capacity, flow);
    this.head++;
    if (this.waiters.size > 0 && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.wake);
    }
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    for (const w of [...this.waiters]) w();
  };

  /** Records flows lost before they reached the ring (e.g. a BPF perf/ring buffer overrun). */
  reportLost(source: string, n: number): void {
    this.lost += n;
    this.lostCounts.set(source, (this.lostCounts.get(source) ?? 0) + n);
  }

  /** Lost events so far by LostEventSource name (for hubble_lost_events_total). */
  lostBySource(): ReadonlyMap<string, number> {
    return this.lostCounts;
  }

  /** All held flows, oldest first. */
  snapshot(): Flow[] {
    return this.read(this.oldest, Number.MAX_SAFE_INTEGER).flows;
  }

  /** Reads up to `max` flows from `cursor`, reporting what the writer already overwrote. */
  read(cursor: number, max = this.capacity): RingRead {
    let from = cursor;
    let lost = 0;
    if (from < this.oldest) {
      lost = this.oldest - from;
      from = this.oldest;
      this.reportLost('HUBBLE_RING_BUFFER', lost);
    }
    const to = Math.min(this.head, from + max);
    const flows: Flow[] = new Array(Math.max(0, to - from));
    for (let s = from; s < to; s++) flows[s - from] = this.slots.get(s % this.capacity)!;
    return { flows, lost, next: to };
  }

  /**
   * Calls `fn` (batched, on a later tick) after new flows were written, until the returned
   * function is called. Costs the writer nothing while nobody waits.
   */
  onWrite(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => {
      this.waiters.delete(fn);
    };
  }
}
