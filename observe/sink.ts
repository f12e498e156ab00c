/**
 * The FlowSink contract between flow producers (proxy, DNS proxy, datapath event reader) and the
 * observers (ring buffer, flow log, metrics, store).
 *
 * Contract:
 * - `emit(flow)` is synchronous, never throws, never blocks and never waits for I/O. A sink that
 *   cannot keep up DROPS flows and counts them (lost-event accounting); it never applies
 *   backpressure to the data path.
 * - The sink may keep a reference to the flow: emitters must not mutate a flow after emitting it.
 * - `enabled === false` tells an emitter nobody listens, so it may skip building the flow at all
 *   (the undici `hasSubscribers` idea). Absent means enabled.
 */
import type { Writable } from 'node:stream';
import type { Flow } from './flow.js';
import type { HttpFlowRecord } from './http-flow.js';

export interface FlowSink {
  /** Hands one flow to the observers. Synchronous, non-blocking, never throws. */
  emit(flow: Flow): void;
  /**
   * Optional fast path: the same as `emit(flow)`, for a flow built by `buildHttpFlow(rec)`; a sink
   * may keep the compact record instead of the flow (e.g. to hand it to another thread). Emitters
   * call it only when present; the record must not be mutated either.
   */
  emitHttp?(flow: Flow, rec: HttpFlowRecord): void;
  /** False when emitting would be a no-op (no listener). Absent means true. */
  readonly enabled?: boolean;
}

/** A sink that discards everything: cost per flow is one call. */
export const NULL_SINK: FlowSink = Object.freeze({ emit(): void {}, enabled: false });

/**
 * Fan-out to several sinks. One failing sink does not stop the others (its error is counted and
 * passed to `onError`). With no members it reports `enabled: false`.
 */
export class FanoutSink implements FlowSink {
  private members: FlowSink[] = [];
  /** Errors thrown by member sinks (a sink bug, never the data path's problem). */
  errors = 0;

  constructor(members: FlowSink[] = [], private readonly onError?: (err: unknown) => void) {
    for (const m of members) this.add(m);
  }

  get enabled(): boolean {
    return this.members.some((m) => m.enabled !== false);
  }

  /** Adds a member; returns a function removing it again. */
  add(sink: FlowSink): () => void {
    this.members = [...this.members, sink];
    return () => {
      this.members = this.members.filter((m) => m !== sink);
    };
  }

  emit(flow: Flow): void {
    const ms = this.members;
    for (let i = 0; i < ms.length; i++) {
      try {
        ms[i]!.emit(flow);
      } catch (err) {
        this.errors++;
        this.onError?.(err);
      }
    }
  }

  emitHttp(flow: Flow, rec: HttpFlowRecord): void {
    const ms = this.members;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!;
      try {
        if (m.emitHttp !== undefined) m.emitHttp(flow, rec);
        else m.emit(flow);
      } catch (err) {
        this.errors++;
        this.onError?.(err);
      }
    }
  }
}

export interface JsonLinesSinkOptions {
  /**
   * Bytes that may wait in the stream's buffer before new flows are dropped (and counted in
   * `lost`) instead of queued. Default 8 MiB.
   */
  maxBufferedBytes?: number;
}

/**
 * Writes one JSON object per line (Hubble's flow JSON, e.g. for `tendril proxy --flows <file>|-`).
 * Never waits for the stream: when more than `maxBufferedBytes` are queued, flows are dropped and
 * counted in `lost`.
 */
export class JsonLinesSink implements FlowSink {
  readonly enabled = true;
  /** Flows dropped because the stream could not keep up. */
  lost = 0;
  /** Flows written. */
  written = 0;
  private readonly maxBuffered: number;

  constructor(private readonly stream: Writable, opts: JsonLinesSinkOptions = {}) {
    this.maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
  }

  emit(flow: Flow): void {
    if (this.stream.destroyed || this.stream.writableEnded || this.stream.writableLength > this.maxBuffered) {
      this.lost++;
      return;
    }
    this.stream.write(`${JSON.stringify(flow)}\n`);
    this.written++;
  }

  /** Ends the stream after everything queued is written. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.writableEnded || this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
    });
  }
}

/** A sink calling a function per flow (tests, adapters). */
export class CallbackSink implements FlowSink {
  readonly enabled = true;
  constructor(private readonly fn: (flow: Flow) => void) {}
  emit(flow: Flow): void {
    this.fn(flow);
  }
}
