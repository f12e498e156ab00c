/**
 * The table-driven codec: a message is a list of `Field`s, each present in a version range,
 * nullable in a version range, possibly living only in the tagged section (`tag`). One generic
 * decoder and one generic encoder walk these tables for any (api key, version); the tables
 * themselves are in apis.ts (docs/kafka.md "Codec"). Decoded structs are plain records keyed by
 * the field names of the Kafka message schemas; unknown tagged fields are kept raw in `_tags` and
 * written back unchanged.
 */
import { Reader, Writer, malformed } from './wire.js';

export type Prim = 'int8' | 'int16' | 'int32' | 'int64' | 'float64' | 'bool' | 'uuid' | 'string' | 'bytes' | 'records';
export type FieldType = Prim | { array: FieldType } | { struct: readonly Field[] };

export interface Field {
  name: string;
  type: FieldType;
  min: number;
  max: number;
  nullMin: number;
  nullMax: number;
  /** Present only in the tagged section, under this tag. */
  tag?: number;
  /** Not compact even in flexible versions (RequestHeader.ClientId). */
  flexNone?: boolean;
}

export type Rec = { [name: string]: unknown; _tags?: RawTag[] };
export interface RawTag {
  tag: number;
  data: Buffer;
}

const INF = 0x7fff;

function range(spec: string): [number, number] {
  const m = /^(\d+)(\+|-(\d+))?$/.exec(spec);
  if (!m) throw new Error(`bad version range ${spec}`);
  const lo = Number(m[1]);
  if (m[2] === '+') return [lo, INF];
  if (m[3] !== undefined) return [lo, Number(m[3])];
  return [lo, lo];
}

/** `f('Name', 'string', '0+', { null: '1+' })` */
export function f(name: string, type: FieldType, versions: string, opts: { null?: string; tag?: number; flexNone?: boolean } = {}): Field {
  const [min, max] = range(versions);
  const [nullMin, nullMax] = opts.null ? range(opts.null) : [1, 0];
  const out: Field = { name, type, min, max, nullMin, nullMax };
  if (opts.tag !== undefined) out.tag = opts.tag;
  if (opts.flexNone) out.flexNone = true;
  return out;
}

/** Array of structs. */
export const arr = (fields: readonly Field[]): FieldType => ({ array: { struct: fields } });
/** Array of a primitive. */
export const arrOf = (p: Prim): FieldType => ({ array: p });
export const struct = (fields: readonly Field[]): FieldType => ({ struct: fields });

const present = (fl: Field, v: number): boolean => v >= fl.min && v <= fl.max;
const nullableAt = (fl: Field, v: number): boolean => v >= fl.nullMin && v <= fl.nullMax;

const UUID_ZERO = Buffer.alloc(16);

function decodeValue(t: FieldType, name: string, nullable: boolean, compact: boolean, v: number, flex: boolean, r: Reader): unknown {
  if (typeof t === 'string') {
    switch (t) {
      case 'int8':
        return r.int8(name);
      case 'int16':
        return r.int16(name);
      case 'int32':
        return r.int32(name);
      case 'int64':
        return r.int64(name);
      case 'float64':
        return r.float64(name);
      case 'bool':
        return r.bool(name);
      case 'uuid':
        return r.raw(16, name);
      case 'string':
        return r.string(compact, nullable, name);
      case 'bytes':
      case 'records':
        return r.bytes(compact, nullable, name);
    }
  }
  if ('struct' in t) return decodeStruct(t.struct, v, flex, r);
  const n = r.arrayCount(compact, nullable, 1, name);
  if (n === -1) return null;
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = decodeValue(t.array, name, false, compact, v, flex, r);
  return out;
}

/** Decodes one struct of `fields` at version `v` (flexible: compact forms + tagged section). */
export function decodeStruct(fields: readonly Field[], v: number, flex: boolean, r: Reader): Rec {
  const out: Rec = {};
  for (const fl of fields) {
    if (fl.tag !== undefined || !present(fl, v)) continue;
    out[fl.name] = decodeValue(fl.type, fl.name, nullableAt(fl, v), flex && !fl.flexNone, v, flex, r);
  }
  if (flex) readTagged(fields, v, r, out);
  return out;
}

export function readTagged(fields: readonly Field[], v: number, r: Reader, out: Rec): void {
  const count = r.uvarint('tagged field count');
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint('tag');
    const size = r.uvarint('tag size');
    const data = r.raw(size, `tagged field ${tag}`);
    const fl = fields.find((x) => x.tag === tag && present(x, v));
    if (fl) {
      const sub = new Reader(data);
      out[fl.name] = decodeValue(fl.type, fl.name, nullableAt(fl, v), true, v, true, sub);
      if (sub.remaining !== 0) throw malformed(`Kafka tagged field ${fl.name} has ${sub.remaining} leftover bytes`, fl.name);
    } else (out._tags ??= []).push({ tag, data });
  }
}

/** Supplies a value for a field the object leaves undefined. */
export type Fill = (fl: Field, nullable: boolean) => unknown;

export const zeroFill: Fill = (fl, nullable) => {
  const t = fl.type;
  if (typeof t === 'string') {
    switch (t) {
      case 'int64':
        return 0n;
      case 'bool':
        return false;
      case 'uuid':
        return UUID_ZERO;
      case 'string':
        return nullable ? null : '';
      case 'bytes':
      case 'records':
        return nullable ? null : Buffer.alloc(0);
      default:
        return 0;
    }
  }
  if ('struct' in t) return {};
  return [];
};

function encodeValue(t: FieldType, val: unknown, compact: boolean, v: number, flex: boolean, w: Writer, fill: Fill): void {
  if (typeof t === 'string') {
    switch (t) {
      case 'int8':
        w.int8(val as number);
        return;
      case 'int16':
        w.int16(val as number);
        return;
      case 'int32':
        w.int32(val as number);
        return;
      case 'int64':
        w.int64(BigInt(val as bigint | number));
        return;
      case 'float64':
        w.float64(val as number);
        return;
      case 'bool':
        w.bool(val as boolean);
        return;
      case 'uuid':
        w.raw(val as Buffer);
        return;
      case 'string':
        w.string(val as string | null, compact);
        return;
      case 'bytes':
      case 'records':
        w.bytes(val as Buffer | null, compact);
        return;
    }
  }
  if ('struct' in t) {
    encodeStruct(t.struct, v, flex, w, (val ?? {}) as Rec, fill);
    return;
  }
  if (val === null) {
    w.length(-1, compact, true);
    return;
  }
  const list = val as unknown[];
  w.length(list.length, compact, true);
  for (const e of list) encodeValue(t.array, e, compact, v, flex, w, fill);
}

/** Encodes `obj` as a struct of `fields` at version `v`; fields it lacks come from `fill`. */
export function encodeStruct(fields: readonly Field[], v: number, flex: boolean, w: Writer, obj: Rec, fill: Fill = zeroFill): void {
  for (const fl of fields) {
    if (fl.tag !== undefined || !present(fl, v)) continue;
    let val = obj[fl.name];
    const nullable = nullableAt(fl, v);
    if (val === undefined) val = fill(fl, nullable);
    encodeValue(fl.type, val, flex && !fl.flexNone, v, flex, w, fill);
  }
  if (!flex) return;
  const tags: { tag: number; data: Buffer }[] = [];
  for (const fl of fields) {
    if (fl.tag === undefined || !present(fl, v) || obj[fl.name] === undefined) continue;
    const sub = new Writer(32);
    encodeValue(fl.type, obj[fl.name], true, v, true, sub, fill);
    tags.push({ tag: fl.tag, data: Buffer.from(sub.done()) });
  }
  if (obj._tags) tags.push(...obj._tags);
  tags.sort((a, b) => a.tag - b.tag);
  w.uvarint(tags.length);
  for (const t of tags) w.uvarint(t.tag).uvarint(t.data.length).raw(t.data);
}
