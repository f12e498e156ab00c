/**
 * Path normalization, done ONCE per request: the result is both what the policy judges and what
 * the upstream receives (http-hardening.md rule 0 and section 5 "Hardened pipeline").
 *
 * Steps, in order (each cites its source):
 * 1. `#` (fragment) rejected (Envoy UHV `uhv.fragment_in_url_path`); a raw `\` rejected or turned
 *    into `/` per `backslash` (Envoy's normalize_path treats `\` as a separator).
 * 2. The query is split off at the first `?` and kept byte-for-byte (Envoy `:path` keeps it).
 * 3. Every `%` must be `%HH` (RFC 3986 sec. 2.1); `%00` rejected (Envoy UHV
 *    `uhv.percent_00_in_url_path`); `%2F`/`%5C` kept or rejected per `encodedSlashes`
 *    (Envoy path_with_escaped_slashes_action KEEP_UNCHANGED / REJECT_REQUEST).
 * 4. The percent-decoded path must be valid UTF-8 (overlong `%c0%ae` is invalid, RFC 3629 sec. 3).
 * 5. Percent-encoded unreserved characters are decoded, other escapes get upper-case hex
 *    (RFC 3986 sec. 6.2.2.1-2). Decoding happens once (sec. 2.4): `%252e` stays `%252e`.
 * 6. Runs of `/` are merged (Cilium sets merge_slashes).
 * 7. remove_dot_segments (RFC 3986 sec. 5.2.4), never above the root; a dot segment with
 *    parameters (`..;x`, `.;x`) is rejected (Tomcat/Spring resolve `..;` as `..`).
 * 8. No case folding (rules are case-sensitive regexes).
 */

export interface PathOptions {
  encodedSlashes: 'keep' | 'reject';
  backslash: 'reject' | 'slash';
}

export type PathResult =
  | { ok: true; /** normalized path, `?query` appended unchanged when present */ target: string }
  | { ok: false; /** stable reason tag for flows and tests */ reason: string };

const HEX = '0123456789ABCDEF';
const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e
  );
}

/** Normalizes an origin-form target (`/path?query`). */
export function normalizeOriginTarget(target: string, opts: PathOptions): PathResult {
  if (target.length === 0 || target.charCodeAt(0) !== 0x2f) return { ok: false, reason: 'path_not_origin_form' };
  if (target.includes('#')) return { ok: false, reason: 'fragment_in_path' };
  const q = target.indexOf('?');
  let path = q >= 0 ? target.slice(0, q) : target;
  const query = q >= 0 ? target.slice(q) : '';
  if (path.includes('\\')) {
    if (opts.backslash === 'reject') return { ok: false, reason: 'backslash_in_path' };
    path = path.replaceAll('\\', '/');
  }
  const decoded = decodeUnreserved(path, opts);
  if (!decoded.ok) return decoded;
  const merged = decoded.target.includes('//') ? decoded.target.replace(/\/{2,}/g, '/') : decoded.target;
  let normalized = merged;
  // Every dot segment (and `.;x`, `..;x`) starts right after a `/`: without `/.` step 7 changes nothing.
  if (merged.includes('/.')) {
    const dots = removeDotSegments(merged);
    if (!dots.ok) return dots;
    normalized = dots.target;
  }
  if (query.length > 0) {
    const qv = validateQuery(query);
    if (!qv.ok) return qv;
  }
  return { ok: true, target: query.length > 0 ? normalized + query : normalized };
}

/** Step 3-5: validate escapes, reject %00 / invalid UTF-8 / (optionally) %2F %5C, decode unreserved. */
function decodeUnreserved(path: string, opts: PathOptions): PathResult {
  if (!path.includes('%')) return { ok: true, target: path };
  let out = '';
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c !== 0x25) {
      out += path[i];
      bytes.push(c);
      continue;
    }
    const h = i + 2 < path.length ? hexVal(path.charCodeAt(i + 1)) : -1;
    const l = i + 2 < path.length ? hexVal(path.charCodeAt(i + 2)) : -1;
    if (h < 0 || l < 0) return { ok: false, reason: 'invalid_percent_encoding' };
    const b = h * 16 + l;
    i += 2;
    bytes.push(b);
    if (b === 0) return { ok: false, reason: 'percent_00_in_path' };
    if ((b === 0x2f || b === 0x5c) && opts.encodedSlashes === 'reject') return { ok: false, reason: 'escaped_slash_in_path' };
    if (isUnreserved(b)) out += String.fromCharCode(b);
    else out += `%${HEX[h]}${HEX[l]}`;
  }
  try {
    utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { ok: false, reason: 'invalid_utf8_in_path' };
  }
  return { ok: true, target: out };
}

/** Step 7: RFC 3986 sec. 5.2.4 on an absolute path whose slashes are already merged. */
function removeDotSegments(path: string): PathResult {
  const input = path.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const s = input[i]!;
    const last = i === input.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (last) out.push('');
      continue;
    }
    if (s.startsWith('.;') || s.startsWith('..;')) return { ok: false, reason: 'dot_segment_with_parameters' };
    out.push(s);
  }
  return { ok: true, target: `/${out.join('/')}` };
}

/** The query is forwarded unchanged, but its escapes must still be well-formed and not %00. */
function validateQuery(query: string): PathResult {
  for (let i = query.indexOf('%'); i >= 0; i = query.indexOf('%', i + 1)) {
    const h = hexVal(query.charCodeAt(i + 1));
    const l = hexVal(query.charCodeAt(i + 2));
    if (h < 0 || l < 0) return { ok: false, reason: 'invalid_percent_encoding' };
    if (h === 0 && l === 0) return { ok: false, reason: 'percent_00_in_path' };
  }
  return { ok: true, target: query };
}
