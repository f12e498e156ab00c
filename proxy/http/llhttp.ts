/**
 * llhttp, the parser node:http runs, as undici ships it compiled to WebAssembly
 * (`undici/lib/llhttp/llhttp-wasm.js`): one instance per process, one parser state per
 * connection. No lenient flag is ever set, so it is llhttp in strict mode — node:http's
 * `insecureHTTPParser: false` (docs/http-hardening-rules.md, "Parser").
 *
 * The engine feeds raw socket chunks: `execute(chunk)` copies the chunk into wasm memory once and
 * llhttp calls back with offsets, which are mapped back onto the caller's chunk, so header names
 * and values are sliced straight from it and body data is a subarray of it (no copy).
 *
 * Callbacks run synchronously inside `execute`; a callback must not call `execute` again.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The part of the WebAssembly JS API used here (the project's lib settings carry no DOM types). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (mod: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

/** llhttp_errno values the engine acts on (llhttp's `llhttp_errno_t`). */
export const HPE = {
  OK: 0,
  PAUSED: 21,
  PAUSED_UPGRADE: 22,
  USER: 24,
} as const;

export const TYPE_REQUEST = 1;
export const TYPE_RESPONSE = 2;

/** What a parser reports to; span callbacks get the chunk and [start, end) in it. */
export interface ParserEvents {
  onMessageBegin(): number;
  onUrl(chunk: Buffer, start: number, end: number): number;
  onStatus(chunk: Buffer, start: number, end: number): number;
  onHeaderField(chunk: Buffer, start: number, end: number): number;
  onHeaderValue(chunk: Buffer, start: number, end: number): number;
  /** Return 0, 1 (no body follows: HEAD responses) or HPE.USER to stop with an error. */
  onHeadersComplete(statusCode: number, upgrade: boolean, keepAlive: boolean): number;
  onBody(chunk: Buffer, start: number, end: number): number;
  /** Return 0 to go on with the next message in the same chunk, HPE.PAUSED to stop after this one. */
  onMessageComplete(): number;
}

interface LlhttpExports {
  memory: { buffer: ArrayBuffer };
  malloc(n: number): number;
  free(p: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(p: number): void;
  llhttp_execute(p: number, data: number, len: number): number;
  llhttp_finish(p: number): number;
  llhttp_resume(p: number): void;
  llhttp_resume_after_upgrade(p: number): void;
  llhttp_get_errno(p: number): number;
  llhttp_get_error_pos(p: number): number;
  llhttp_errno_name(errno: number): number;
  llhttp_get_method(p: number): number;
  llhttp_get_http_major(p: number): number;
  llhttp_get_http_minor(p: number): number;
  llhttp_method_name(method: number): number;
}

let current: Parser | null = null;
let chunkRef: Buffer | null = null;
let bufPtr = 0;
let bufSize = 0;

function span(fn: 'onUrl' | 'onStatus' | 'onHeaderField' | 'onHeaderValue' | 'onBody') {
  return (_p: number, at: number, len: number): number => {
    const start = at - bufPtr;
    return current!.events[fn](chunkRef!, start, start + len);
  };
}

let wasm: LlhttpExports | null = null;

function instance(): LlhttpExports {
  if (wasm) return wasm;
  const bytes = require('undici/lib/llhttp/llhttp-wasm.js') as Buffer;
  const mod = new WA.Module(bytes);
  const inst = new WA.Instance(mod, {
    env: {
      wasm_on_message_begin: () => current!.events.onMessageBegin(),
      wasm_on_url: span('onUrl'),
      wasm_on_status: span('onStatus'),
      wasm_on_header_field: span('onHeaderField'),
      wasm_on_header_value: span('onHeaderValue'),
      wasm_on_headers_complete: (_p: number, status: number, upgrade: number, keepAlive: number) =>
        current!.events.onHeadersComplete(status, upgrade === 1, keepAlive === 1),
      wasm_on_body: span('onBody'),
      wasm_on_message_complete: () => current!.events.onMessageComplete(),
    },
  });
  wasm = inst.exports as unknown as LlhttpExports;
  return wasm;
}

const methodNames: string[] = [];
const errnoNames = new Map<number, string>();

function cString(w: LlhttpExports, ptr: number): string {
  const mem = new Uint8Array(w.memory.buffer);
  let end = ptr;
  while (mem[end] !== 0) end++;
  return Buffer.from(mem.subarray(ptr, end)).toString('latin1');
}

/** Result of one `execute`: the errno and, unless OK, where in the chunk llhttp stopped. */
export interface ExecResult {
  errno: number;
  /** Offset in the chunk of the first byte not consumed (PAUSED / PAUSED_UPGRADE / error). */
  pos: number;
}

export class Parser {
  private ptr: number;
  private readonly w: LlhttpExports;

  constructor(
    type: typeof TYPE_REQUEST | typeof TYPE_RESPONSE,
    readonly events: ParserEvents,
  ) {
    this.w = instance();
    this.ptr = this.w.llhttp_alloc(type);
  }

  execute(chunk: Buffer): ExecResult {
    const w = this.w;
    if (current !== null) throw new Error('BUG: llhttp execute re-entered');
    if (chunk.length > bufSize) {
      if (bufPtr !== 0) w.free(bufPtr);
      bufSize = Math.ceil(chunk.length / 65536) * 65536;
      bufPtr = w.malloc(bufSize);
    }
    new Uint8Array(w.memory.buffer, bufPtr, chunk.length).set(chunk);
    let errno: number;
    current = this;
    chunkRef = chunk;
    try {
      errno = w.llhttp_execute(this.ptr, bufPtr, chunk.length);
    } finally {
      current = null;
      chunkRef = null;
    }
    if (errno === HPE.OK) return { errno, pos: chunk.length };
    return { errno, pos: w.llhttp_get_error_pos(this.ptr) - bufPtr };
  }

  /** End of input (the peer closed): completes an EOF-delimited message or reports an error. */
  finish(): number {
    current = this;
    try {
      return this.w.llhttp_finish(this.ptr);
    } finally {
      current = null;
    }
  }

  resume(): void {
    this.w.llhttp_resume(this.ptr);
  }

  method(): string {
    const m = this.w.llhttp_get_method(this.ptr);
    return (methodNames[m] ??= cString(this.w, this.w.llhttp_method_name(m)));
  }

  /** `1.1`, `1.0`, ... */
  version(): string {
    return `${this.w.llhttp_get_http_major(this.ptr)}.${this.w.llhttp_get_http_minor(this.ptr)}`;
  }

  /** `HPE_INVALID_METHOD` etc. */
  static errnoName(errno: number): string {
    let n = errnoNames.get(errno);
    if (n === undefined) {
      const w = instance();
      n = cString(w, w.llhttp_errno_name(errno));
      errnoNames.set(errno, n);
    }
    return n;
  }

  free(): void {
    if (this.ptr !== 0) {
      this.w.llhttp_free(this.ptr);
      this.ptr = 0;
    }
  }
}
