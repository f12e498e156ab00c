/**
 * DNS wire format, read from the raw bytes (docs/dns.md "Wire format"): query admission for the
 * policy decision, the proxy's own replies (REFUSED / NXDOMAIN / FORMERR / NOTIMP, built by
 * copying bytes), and the answer walk that learning needs. Every read is bounds-checked; a name
 * is kept as its labels' bytes, so a label containing a `.` byte is never taken for two labels.
 * Compression pointers are followed only backwards (strictly before the pointer) and at most
 * MAX_POINTER_HOPS times; a question name may not use them at all.
 */

export const HEADER_BYTES = 12;
/** Longest name on the wire, octets (RFC 1035 §2.3.4). */
export const MAX_NAME_OCTETS = 255;
const MAX_POINTER_HOPS = 64;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV',
  35: 'NAPTR', 39: 'DNAME', 41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 50: 'NSEC3', 52: 'TLSA',
  64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 255: 'ANY', 257: 'CAA',
};

/** `A`, `AAAA`, ... or `TYPE<n>` (RFC 3597 spelling) for types without a name here. */
export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

/** A name as labels' bytes, with the two text forms the proxy needs. */
export interface WireName {
  /** Presentation form, case kept, trailing dot; bytes outside [-A-Za-z0-9_] as `\DDD` (so `a\046b.` is one label). */
  text: string;
  /** `text` with A-Z lowered: what policy compares (docs/dns.md "Names"). */
  normalized: string;
  /** Every byte of every label is in [-A-Za-z0-9_]. */
  ldh: boolean;
}

export interface ParsedQuery {
  id: number;
  /** Header flags word (bytes 2-3). */
  flags: number;
  name: WireName;
  qtype: number;
  qclass: number;
  /** Offset just past the question (name + type + class): bytes [12, questionEnd) are copied into replies. */
  questionEnd: number;
  /** The query carries an OPT record (EDNS). */
  edns: boolean;
  /** The message as received (replies to it copy its header and question). */
  raw: Uint8Array;
}

/** What to do with a datagram or TCP message that arrived as a query. */
export type QueryAdmission =
  | { kind: 'query'; query: ParsedQuery }
  /** Answer with this rcode (header copied, no sections) and never forward. */
  | { kind: 'reject'; rcode: number; reason: string }
  /** Too short to answer, or not a query: no reply (docs/dns.md "Admission"). */
  | { kind: 'drop'; reason: string };

const LDH = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  LDH[c] = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f ? 1 : 0;
}

class Malformed extends Error {}

function fail(reason: string): never {
  throw new Malformed(reason);
}

/** Appends one label's bytes to the text forms. */
function labelText(buf: Uint8Array, start: number, len: number, out: { text: string; normalized: string; ldh: boolean }): void {
  let t = '';
  let n = '';
  for (let i = start; i < start + len; i++) {
    const c = buf[i]!;
    if (LDH[c] === 1) {
      t += String.fromCharCode(c);
      n += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
    } else {
      const esc = `\\${String(c).padStart(3, '0')}`;
      t += esc;
      n += esc;
      out.ldh = false;
    }
  }
  out.text += `${t}.`;
  out.normalized += `${n}.`;
}

/**
 * Reads a name at `off`. `allowPointers` false: a compression pointer is malformed (question
 * names, docs/dns.md D3). Returns the name and the offset after it in the original position.
 */
export function readName(buf: Uint8Array, off: number, allowPointers: boolean): { name: WireName; end: number } {
  const out = { text: '', normalized: '', ldh: true };
  let octets = 1; // the root label
  let pos = off;
  let end = -1;
  let hops = 0;
  for (;;) {
    if (pos >= buf.length) fail('name runs past the end of the message');
    const len = buf[pos]!;
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (!allowPointers) fail('compression pointer in the question name');
      if (pos + 1 >= buf.length) fail('compression pointer runs past the end of the message');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos) fail('compression pointer does not point backwards');
      if (++hops > MAX_POINTER_HOPS) fail('too many compression pointers');
      if (end < 0) end = pos + 2;
      pos = target;
      continue;
    }
    if (top !== 0) fail(`label length byte 0x${len.toString(16)} (over 63 or an extended label type)`);
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if (pos + 1 + len > buf.length) fail('label runs past the end of the message');
    octets += len + 1;
    if (octets > MAX_NAME_OCTETS) fail(`name longer than ${MAX_NAME_OCTETS} octets`);
    labelText(buf, pos + 1, len, out);
    pos += 1 + len;
  }
  if (out.text === '') {
    out.text = '.';
    out.normalized = '.';
  }
  return { name: out, end };
}

/** Skips one resource record (name, type, class, TTL, RDATA) at `off`; returns its fields. */
function readRecord(buf: Uint8Array, off: number): { name: WireName; type: number; ttl: number; rdata: number; rdlen: number; end: number } {
  const { name, end: nameEnd } = readName(buf, off, true);
  if (nameEnd + 10 > buf.length) fail('resource record header runs past the end of the message');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = dv.getUint16(nameEnd);
  const ttl = dv.getUint32(nameEnd + 4);
  const rdlen = dv.getUint16(nameEnd + 8);
  const rdata = nameEnd + 10;
  if (rdata + rdlen > buf.length) fail('record data runs past the end of the message');
  return { name, type, ttl, rdata, rdlen, end: rdata + rdlen };
}

/** Query admission (docs/dns.md "Admission", the normative D3 order). Never throws. */
export function admitQuery(buf: Uint8Array): QueryAdmission {
  if (buf.length < HEADER_BYTES) return { kind: 'drop', reason: `message of ${buf.length} bytes is shorter than a DNS header` };
  const flags = (buf[2]! << 8) | buf[3]!;
  if (flags & 0x8000) return { kind: 'drop', reason: 'QR is set: a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { kind: 'reject', rcode: RCODE.NOTIMP, reason: `opcode ${opcode} is not QUERY` };
  const qd = (buf[4]! << 8) | buf[5]!;
  const an = (buf[6]! << 8) | buf[7]!;
  const ns = (buf[8]! << 8) | buf[9]!;
  const ar = (buf[10]! << 8) | buf[11]!;
  if (qd !== 1 || an > 1 || ns > 1 || ar > 2) {
    return { kind: 'reject', rcode: RCODE.FORMERR, reason: `section counts qd=${qd} an=${an} ns=${ns} ar=${ar} (need qd=1, an<=1, ns<=1, ar<=2)` };
  }
  try {
    const { name, end } = readName(buf, HEADER_BYTES, false);
    if (end + 4 > buf.length) fail('question type/class missing');
    const qtype = (buf[end]! << 8) | buf[end + 1]!;
    const qclass = (buf[end + 2]! << 8) | buf[end + 3]!;
    const questionEnd = end + 4;
    let off = questionEnd;
    let edns = false;
    for (let i = 0; i < an + ns + ar; i++) {
      const rr = readRecord(buf, off);
      if (rr.type === 41) {
        if (i < an + ns) fail('OPT record outside the additional section');
        if (edns) fail('more than one OPT record');
        if (rr.name.text !== '.') fail('OPT record owner is not the root');
        edns = true;
      }
      off = rr.end;
    }
    if (off !== buf.length) fail(`${buf.length - off} bytes after the last record`);
    return { kind: 'query', query: { id: (buf[0]! << 8) | buf[1]!, flags, name, qtype, qclass, questionEnd, edns, raw: buf } };
  } catch (err) {
    if (err instanceof Malformed) return { kind: 'reject', rcode: RCODE.FORMERR, reason: err.message };
    throw err;
  }
}

/**
 * FORMERR / NOTIMP reply to a message that could not be admitted: the ID copied, QR set, opcode
 * and RD copied, the rcode, every count 0 (docs/dns.md D3). `buf` has at least 12 bytes.
 */
export function errorReply(buf: Uint8Array, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out[0] = buf[0]!;
  out[1] = buf[1]!;
  out[2] = 0x80 | (buf[2]! & 0x79); // QR, opcode (bits 3-6), RD
  out[3] = rcode & 0xf;
  return out;
}

/**
 * The policy denial (docs/dns.md D5): same ID, QR=1, opcode 0, RD and CD copied, AA=TC=RA=0,
 * the question bytes copied exactly (original case), no other records.
 */
export function denyReply(buf: Uint8Array, q: ParsedQuery, rcode: number): Buffer {
  const out = Buffer.alloc(q.questionEnd);
  out.set(buf.subarray(0, q.questionEnd));
  out[2] = 0x80 | (buf[2]! & 0x01); // QR, RD
  out[3] = (buf[3]! & 0x10) | (rcode & 0xf); // CD
  out[4] = 0;
  out[5] = 1;
  out.fill(0, 6, 12);
  return out;
}

/** What a relayed response says, for learning and for flows. */
export interface ParsedResponse {
  id: number;
  rcode: number;
  truncated: boolean;
  /** The first question's name (responses without a question: null). */
  question: WireName | null;
  /** A/AAAA addresses on the CNAME chain from the question name, in answer order. */
  ips: string[];
  /** Minimum TTL over the chain's A, AAAA and CNAME records (null when the chain has none). */
  ttl: number | null;
  /** CNAME targets along the chain, normalized. */
  cnames: string[];
  /** Type names of every answer record. */
  rrtypes: string[];
  /** False when an answer record's owner is off the chain: nothing may be learned (docs/dns.md "Learning"). */
  chainOk: boolean;
}

function ip4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

function ip6(buf: Uint8Array, off: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(((buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * Walks a response (docs/dns.md "Learning"): header, questions, answers. Throws nothing: a
 * response that does not parse returns null (it is not relayed).
 */
export function parseResponse(buf: Uint8Array): ParsedResponse | null {
  try {
    if (buf.length < HEADER_BYTES) return null;
    const flags = (buf[2]! << 8) | buf[3]!;
    if (!(flags & 0x8000)) return null;
    const qd = (buf[4]! << 8) | buf[5]!;
    const an = (buf[6]! << 8) | buf[7]!;
    let off = HEADER_BYTES;
    let question: WireName | null = null;
    for (let i = 0; i < qd; i++) {
      const { name, end } = readName(buf, off, true);
      if (end + 4 > buf.length) fail('question type/class missing');
      if (i === 0) question = name;
      off = end + 4;
    }
    const out: ParsedResponse = { id: (buf[0]! << 8) | buf[1]!, rcode: flags & 0xf, truncated: (flags & 0x0200) !== 0, question, ips: [], ttl: null, cnames: [], rrtypes: [], chainOk: true };
    let chain = question?.normalized ?? null;
    for (let i = 0; i < an; i++) {
      const rr = readRecord(buf, off);
      off = rr.end;
      out.rrtypes.push(typeName(rr.type));
      if (rr.type !== 1 && rr.type !== 28 && rr.type !== 5) continue;
      if (chain === null || rr.name.normalized !== chain) {
        out.chainOk = false;
        continue;
      }
      out.ttl = out.ttl === null ? rr.ttl : Math.min(out.ttl, rr.ttl);
      if (rr.type === 1) {
        if (rr.rdlen !== 4) fail('A record data is not 4 bytes');
        out.ips.push(ip4(buf, rr.rdata));
      } else if (rr.type === 28) {
        if (rr.rdlen !== 16) fail('AAAA record data is not 16 bytes');
        out.ips.push(ip6(buf, rr.rdata));
      } else {
        const { name, end } = readName(buf, rr.rdata, true);
        if (end !== rr.rdata + rr.rdlen) fail('CNAME data length does not match its name');
        chain = name.normalized;
        out.cnames.push(chain);
      }
    }
    return out;
  } catch (err) {
    if (err instanceof Malformed) return null;
    throw err;
  }
}

/** Builds a query (tests, bench and the CLI's own lookups): one question, RD set, optional OPT. */
export function buildQuery(id: number, name: string, qtype: number, opts: { edns?: number } = {}): Buffer {
  const labels = name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(opts.edns ? 1 : 0, 10);
  parts.push(head);
  for (const l of labels) {
    const b = Buffer.from(l, 'latin1');
    if (b.length === 0 || b.length > 63) throw new RangeError(`label ${JSON.stringify(l)} must be 1-63 bytes`);
    parts.push(Buffer.from([b.length]), b);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(qtype, 1);
  tail.writeUInt16BE(1, 3);
  parts.push(tail);
  if (opts.edns) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(opts.edns, 3);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}
