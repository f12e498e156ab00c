/**
 * One streaming gRPC client core for every SPIFFE source (docs/identity.md "Client behaviour"):
 * keeps a server stream open, hands each message (a complete state) to the owner, and after
 * an end or error reconnects: at once after a clean end that delivered messages, otherwise after
 * an exponential backoff (1 s, ×2, ±20 % jitter, capped at 30 s) that resets after the first good
 * message. INVALID_ARGUMENT and UNIMPLEMENTED stop the stream (a configuration error).
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';

export interface Backoff {
  initialMs: number;
  factor: number;
  jitter: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, factor: 2, jitter: 0.2, maxMs: 30_000 };

/** Delay before attempt `n` (0-based) with jitter drawn from `rand` in [0,1). */
export function backoffDelay(b: Backoff, n: number, rand: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * b.factor ** n);
  return Math.max(0, Math.round(base * (1 + b.jitter * (2 * rand() - 1))));
}

export interface StreamStatus {
  connected: boolean;
  /** Last error text, e.g. `UNAVAILABLE: connect ENOENT /run/spire/sockets/agent.sock`. */
  lastError?: string;
  lastMessageAt?: Date;
  reconnects: number;
  stopped: boolean;
}

export interface StreamWatcherEvents<T> {
  message: [T];
  /** PERMISSION_DENIED: the server withdrew the caller's identities. */
  denied: [string];
  /** INVALID_ARGUMENT / UNIMPLEMENTED: not retried. */
  fatal: [string];
  disconnected: [string];
}

export class StreamWatcher<T> extends EventEmitter<StreamWatcherEvents<T>> {
  private call: grpc.ClientReadableStream<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  readonly status: StreamStatus = { connected: false, reconnects: 0, stopped: false };

  constructor(
    readonly name: string,
    private readonly open: () => grpc.ClientReadableStream<T>,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {
    super();
  }

  start(): void {
    this.status.stopped = false;
    this.connect();
  }

  stop(): void {
    this.status.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.status.connected = false;
  }

  private connect(): void {
    if (this.status.stopped) return;
    let gotMessage = false;
    const call = this.open();
    this.call = call;
    call.on('data', (msg: T) => {
      if (this.call !== call) return;
      gotMessage = true;
      this.attempt = 0;
      this.status.connected = true;
      this.status.lastMessageAt = new Date();
      delete this.status.lastError;
      this.emit('message', msg);
    });
    call.on('error', () => {
      /* reported through 'status' */
    });
    call.on('status', (st: grpc.StatusObject) => {
      if (this.call !== call) return;
      this.call = undefined;
      this.status.connected = false;
      if (this.status.stopped) return;
      const text = `${grpc.status[st.code] ?? st.code}: ${st.details}`;
      if (st.code === grpc.status.INVALID_ARGUMENT || st.code === grpc.status.UNIMPLEMENTED) {
        this.status.lastError = text;
        this.status.stopped = true;
        this.emit('fatal', text);
        return;
      }
      if (st.code === grpc.status.PERMISSION_DENIED) this.emit('denied', text);
      if (st.code !== grpc.status.OK) this.status.lastError = text;
      else this.status.lastError = 'stream ended by the server';
      this.emit('disconnected', this.status.lastError);
      this.status.reconnects++;
      if (st.code === grpc.status.OK && gotMessage) {
        setImmediate(() => this.connect());
        return;
      }
      const delay = backoffDelay(this.backoff, this.attempt++);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.connect();
      }, delay);
      this.timer.unref?.();
    });
  }
}

/** Metadata every SPIFFE call carries (the Workload API requires it; SPIRE ignores it elsewhere). */
export function spiffeMetadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('workload.spiffe.io', 'true');
  return md;
}

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 20 * 1024 * 1024,
};
