/**
 * Kafka primitive types (docs/kafka.md "Wire format"): big-endian integers, int16-length strings,
 * int32-length bytes and arrays, and the flexible-version forms (unsigned varints, compact
 * strings/bytes/arrays with length+1, tagged-field sections). Every read is bounds-checked and
 * fails with a TendrilError (TND_KAFKA_TRUNCATED when the frame ends early, TND_KAFKA_MALFORMED
 * for impossible values); nothing here trusts a length before checking it against the buffer.
 */
import { TendrilError } from '../../core/index.js';

export function truncated(what: string, at: number): TendrilError {
  return new TendrilError('TND_KAFKA_TRUNCATED', `Kafka frame truncated reading ${what} at byte ${at}`, { field: what });
}

export function malformed(message: string, field = ''): TendrilError {
  return new TendrilError('TND_KAFKA_MALFORMED', message, { field });
}

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): number {
    const p = this.pos;
    if (n < 0 || p + n > this.end) throw truncated(what, p);
    this.pos = p + n;
    return p;
  }

  int8(what = 'int8'): number {
    return this.buf.readInt8(this.need(1, what));
  }
  int16(what = 'int16'): number {
    return this.buf.readInt16BE(this.need(2, what));
  }
  int32(what = 'int32'): number {
    return this.buf.readInt32BE(this.need(4, what));
  }
  int64(what = 'int64'): bigint {
    return this.buf.readBigInt64BE(this.need(8, what));
  }
  float64(what = 'float64'): number {
    return this.buf.readDoubleBE(this.need(8, what));
  }
  bool(what = 'bool'): boolean {
    const v = this.buf[this.need(1, what)]!;
    if (v > 1) throw malformed(`Kafka boolean ${what} is ${v}, not 0 or 1`, what);
    return v === 1;
  }
  raw(n: number, what = 'bytes'): Buffer {
    const p = this.need(n, what);
    return this.buf.subarray(p, p + n);
  }

  /** Unsigned varint, at most 5 bytes for 32 bits (KIP-482). */
  uvarint(what = 'uvarint'): number {
    let v = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.buf[this.need(1, what)]!;
      if (i === 4 && b > 0x0f) throw malformed(`Kafka varint ${what} is longer than 32 bits`, what);
      v += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return v;
    }
    throw malformed(`Kafka varint ${what} is longer than 5 bytes`, what);
  }

  /** Signed zig-zag varint (record fields), at most 5 bytes. */
  varint(what = 'varint'): number {
    const u = this.uvarint(what);
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** Signed zig-zag varlong (record fields), at most 10 bytes. */
  varlong(what = 'varlong'): bigint {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.need(1, what)]!;
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return (v >> 1n) ^ -(v & 1n);
    }
    throw malformed(`Kafka varlong ${what} is longer than 10 bytes`, what);
  }

  /** Length of a string/bytes/array: -1 = null; other negatives are malformed. */
  length(compact: boolean, wide: boolean, what: string): number {
    let n: number;
    if (compact) n = this.uvarint(what) - 1;
    else n = wide ? this.int32(what) : this.int16(what);
    if (n < -1) throw malformed(`Kafka length of ${what} is ${n}`, what);
    return n;
  }

  string(compact: boolean, nullable: boolean, what = 'string'): string | null {
    const n = this.length(compact, false, what);
    if (n === -1) {
      if (!nullable) throw malformed(`Kafka string ${what} is null but not nullable`, what);
      return null;
    }
    return this.raw(n, what).toString('utf8');
  }

  bytes(compact: boolean, nullable: boolean, what = 'bytes'): Buffer | null {
    const n = this.length(compact, true, what);
    if (n === -1) {
      if (!nullable) throw malformed(`Kafka bytes ${what} is null but not nullable`, what);
      return null;
    }
    return this.raw(n, what);
  }

  /** Array count: checks that at least `minElem` bytes per element remain (cheap DoS guard). */
  arrayCount(compact: boolean, nullable: boolean, minElem: number, what: string): number {
    const n = this.length(compact, true, what);
    if (n === -1) {
      if (!nullable) throw malformed(`Kafka array ${what} is null but not nullable`, what);
      return -1;
    }
    if (n * minElem > this.remaining) throw truncated(what, this.pos);
    return n;
  }
}

export class Writer {
  private buf: Buffer;
  pos = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }
  int8(v: number): this {
    const p = this.room(1);
    this.buf.writeInt8(v, p);
    return this;
  }
  int16(v: number): this {
    const p = this.room(2);
    this.buf.writeInt16BE(v, p);
    return this;
  }
  int32(v: number): this {
    const p = this.room(4);
    this.buf.writeInt32BE(v, p);
    return this;
  }
  int64(v: bigint): this {
    const p = this.room(8);
    this.buf.writeBigInt64BE(v, p);
    return this;
  }
  float64(v: number): this {
    const p = this.room(8);
    this.buf.writeDoubleBE(v, p);
    return this;
  }
  bool(v: boolean): this {
    const p = this.room(1);
    this.buf[p] = v ? 1 : 0;
    return this;
  }
  raw(b: Uint8Array): this {
    const p = this.room(b.length);
    this.buf.set(b, p);
    return this;
  }
  uvarint(v: number): this {
    let n = v >>> 0;
    while (n >= 0x80) {
      const p = this.room(1);
      this.buf[p] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    const p = this.room(1);
    this.buf[p] = n;
    return this;
  }
  varint(v: number): this {
    return this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }
  varlong(v: bigint): this {
    let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    while (z >= 0x80n) {
      const p = this.room(1);
      this.buf[p] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    const p = this.room(1);
    this.buf[p] = Number(z);
    return this;
  }
  length(n: number, compact: boolean, wide: boolean): this {
    if (compact) return this.uvarint(n + 1);
    return wide ? this.int32(n) : this.int16(n);
  }
  string(v: string | null, compact: boolean): this {
    if (v === null) return this.length(-1, compact, false);
    const b = Buffer.from(v, 'utf8');
    return this.length(b.length, compact, false).raw(b);
  }
  bytes(v: Uint8Array | null, compact: boolean): this {
    if (v === null) return this.length(-1, compact, true);
    return this.length(v.length, compact, true).raw(v);
  }
  /** The bytes written so far (a view; copy before reusing the writer). */
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
