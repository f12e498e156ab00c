/**
 * A tiny fixed-layout struct codec: fields with C natural alignment, little-endian host integers,
 * IPv4 addresses as raw network-order bytes (dotted strings in TS). `pad*` fields are always zero
 * and never appear in the TS value. The resulting layout is checked against BTF in codecs.test.ts.
 */
export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 'ip4' | 'pad8' | 'pad16' | 'pad32' | 'pad24';

export interface FieldLayout {
  /** C member name, as in bpf/include/tendril.h */
  cName: string;
  /** TS property name (camelCase of cName), absent for padding */
  name?: string;
  type: FieldType;
  offset: number;
  size: number;
}

export interface Codec<T> {
  /** The C struct name in bpf/include/tendril.h (or a scalar's C type). */
  readonly cName: string;
  readonly size: number;
  readonly fields: readonly FieldLayout[];
  encode(value: T): Buffer;
  decode(buf: Buffer): T;
}

const SIZES: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, ip4: 4, pad8: 1, pad16: 2, pad32: 4, pad24: 3 };
const ALIGN: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, ip4: 4, pad8: 1, pad16: 2, pad32: 4, pad24: 1 };

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export function ip4ToBytes(ip: string, buf: Buffer, off: number): void {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new TypeError(`not an IPv4 address: "${ip}"`);
  for (let i = 0; i < 4; i++) {
    const n = Number(parts[i]);
    if (!Number.isInteger(n) || n < 0 || n > 255 || parts[i] === '') throw new TypeError(`not an IPv4 address: "${ip}"`);
    buf[off + i] = n;
  }
}

export function bytesToIp4(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** Builds a codec from [cName, type] pairs in declaration order. */
export function struct<T>(cName: string, spec: Array<[string, FieldType]>): Codec<T> {
  let off = 0;
  let maxAlign = 1;
  const fields: FieldLayout[] = spec.map(([c, type]) => {
    const a = ALIGN[type];
    maxAlign = Math.max(maxAlign, a);
    off = Math.ceil(off / a) * a;
    const f: FieldLayout = { cName: c, type, offset: off, size: SIZES[type] };
    if (!type.startsWith('pad')) f.name = camel(c);
    off += SIZES[type];
    return f;
  });
  const size = Math.ceil(off / maxAlign) * maxAlign;
  return {
    cName,
    size,
    fields,
    encode(value: T): Buffer {
      const buf = Buffer.alloc(size);
      const v = value as Record<string, unknown>;
      for (const f of fields) {
        if (!f.name) continue;
        const x = v[f.name];
        if (x === undefined) throw new TypeError(`${cName}.${f.cName}: missing`);
        switch (f.type) {
          case 'u8': buf.writeUInt8(x as number, f.offset); break;
          case 'u16': buf.writeUInt16LE(x as number, f.offset); break;
          case 'u32': buf.writeUInt32LE(x as number, f.offset); break;
          case 'u64': buf.writeBigUInt64LE(BigInt(x as bigint | number), f.offset); break;
          case 'ip4': ip4ToBytes(x as string, buf, f.offset); break;
          default: break;
        }
      }
      return buf;
    },
    decode(buf: Buffer): T {
      if (buf.length < size) throw new RangeError(`${cName}: need ${size} bytes, got ${buf.length}`);
      const out: Record<string, unknown> = {};
      for (const f of fields) {
        if (!f.name) continue;
        switch (f.type) {
          case 'u8': out[f.name] = buf.readUInt8(f.offset); break;
          case 'u16': out[f.name] = buf.readUInt16LE(f.offset); break;
          case 'u32': out[f.name] = buf.readUInt32LE(f.offset); break;
          case 'u64': out[f.name] = buf.readBigUInt64LE(f.offset); break;
          case 'ip4': out[f.name] = bytesToIp4(buf, f.offset); break;
          default: break;
        }
      }
      return out as T;
    },
  };
}

/** Scalar codecs for maps keyed by a bare integer or address. */
export function scalar(cName: string, type: 'u32' | 'u64' | 'ip4'): Codec<number | bigint | string> {
  const s = struct<{ v: number | bigint | string }>(cName, [['v', type]]);
  return {
    cName,
    size: s.size,
    fields: s.fields,
    encode: (v) => s.encode({ v }),
    decode: (b) => s.decode(b).v,
  };
}
