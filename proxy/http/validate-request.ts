/**
 * The checks llhttp (strict mode, through node:http) does NOT make, applied to every request
 * before it is judged (http-hardening.md "Parser probe": what node:http lets through). Pure: takes
 * the parsed request line and `rawHeaders`, returns either a 4xx with a reason tag, or the one
 * normalized form that is judged AND forwarded (rule 0).
 *
 * What llhttp already rejects (and node:http answers 400 before we see the request): duplicate or
 * malformed Content-Length, TE+CL, TE lists ending in something other than chunked, obs-fold, bare
 * LF/CR, space before colon, invalid method/target/header bytes, NUL, malformed chunks.
 */
import type { HttpRequestFacts } from '../../policy/api.js';
import { normalizeOriginTarget, type PathOptions } from './normalize-path.js';

export interface ValidateOptions extends PathOptions {
  maxHeaderCount: number;
}

export interface RequestLine {
  method: string;
  /** `req.url` as node:http hands it over (the raw request-target). */
  url: string;
  /** `req.httpVersion` (`1.1`, `1.0`, `0.9`, `2.0` ...). */
  httpVersion: string;
  /** `req.rawHeaders`: name, value, name, value ... as received. */
  rawHeaders: string[];
}

/** A request that passed every check: the normalized form, judged and forwarded as is. */
export interface ValidRequest {
  ok: true;
  method: string;
  /** Normalized origin-form target (path + `?query`), or `*` for `OPTIONS *`. */
  target: string;
  /** The single Host value (authority of an absolute-form target when one was sent). */
  host: string;
  /** Headers to forward, flat `[name, value, ...]`, hop-by-hop and override headers removed; no Host/CL/TE. */
  forwardHeaders: string[];
  /** What the policy engine judges (built from exactly the forwarded fields). */
  facts: HttpRequestFacts;
  /** `content-length` as sent (decimal, canonical), or null. */
  contentLength: number | null;
  /** True for `Transfer-Encoding: chunked`. */
  chunked: boolean;
}

export interface InvalidRequest {
  ok: false;
  status: 400 | 431 | 501;
  /** Stable tag, e.g. `duplicate_host`, `te_not_chunked`, `path:percent_00_in_path`. */
  reason: string;
}

/** Hop-by-hop fields (RFC 9110 sec. 7.6.1) plus the framing fields we regenerate. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'http2-settings',
  'content-length',
  'host',
  'expect',
]);

/** Fields that change the effective method or URL in common frameworks: stripped (section 4). */
const OVERRIDE_HEADERS = new Set(['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url']);

/** Fields a `Connection` header may not nominate (it would strip framing or routing). */
const PROTECTED_FROM_CONNECTION = new Set(['content-length', 'transfer-encoding', 'host']);

/** RFC 3986 authority without userinfo: reg-name / IPv4 / IP-literal, optional port. */
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]{0,5})?$/;

function invalid(status: InvalidRequest['status'], reason: string): InvalidRequest {
  return { ok: false, status, reason };
}

export function validateRequest(line: RequestLine, opts: ValidateOptions): ValidRequest | InvalidRequest {
  const version = line.httpVersion;
  if (version !== '1.1' && version !== '1.0') return invalid(400, 'unsupported_http_version');
  const raw = line.rawHeaders;
  if (raw.length / 2 > opts.maxHeaderCount) return invalid(431, 'too_many_headers');

  let host: string | null = null;
  let hostCount = 0;
  let clCount = 0;
  let contentLength: number | null = null;
  let teCount = 0;
  let chunked = false;
  let connectionTokens: string[] = [];
  const lowerNames: string[] = new Array<string>(raw.length / 2);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    lowerNames[i / 2] = name;
    const value = raw[i + 1]!;
    if (name.length === 0 || name.charCodeAt(0) === 0x3a) return invalid(400, 'pseudo_header_in_http1');
    switch (name) {
      case 'host':
        hostCount++;
        host = value;
        break;
      case 'content-length':
        clCount++;
        if (!/^[0-9]{1,15}$/.test(value)) return invalid(400, 'invalid_content_length');
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        teCount++;
        // Transfer-coding names are case-insensitive (RFC 9112 sec. 7): CHUNKED is chunked framing.
        if (value.trim().toLowerCase() !== 'chunked') return invalid(501, 'te_not_chunked');
        chunked = true;
        break;
      case 'connection':
        connectionTokens = connectionTokens.concat(value.toLowerCase().split(',').map((t) => t.trim()).filter((t) => t.length > 0));
        break;
    }
  }
  if (hostCount > 1) return invalid(400, 'duplicate_host');
  if (hostCount === 0 || host === null) return invalid(400, 'missing_host');
  if (!HOST_RE.test(host)) return invalid(400, 'invalid_host');
  if (clCount > 1) return invalid(400, 'duplicate_content_length');
  if (teCount > 1) return invalid(400, 'duplicate_transfer_encoding');
  if (teCount > 0 && clCount > 0) return invalid(400, 'content_length_and_chunked');
  if (teCount > 0 && version === '1.0') return invalid(400, 'transfer_encoding_in_http10');
  for (const t of connectionTokens) {
    if (PROTECTED_FROM_CONNECTION.has(t)) return invalid(400, 'connection_nominates_framing_header');
  }

  const tgt = normalizeTarget(line.method, line.url, host, opts);
  if (!tgt.ok) return tgt;

  const nominated = connectionTokens.length > 0 ? new Set(connectionTokens) : null;
  const forwardHeaders: string[] = [];
  const headers: Record<string, string | string[] | undefined> = { host };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = lowerNames[i / 2]!;
    if (HOP_BY_HOP.has(lower) || OVERRIDE_HEADERS.has(lower) || (nominated !== null && nominated.has(lower))) continue;
    const value = raw[i + 1]!;
    forwardHeaders.push(name, value);
    const prev = headers[lower];
    headers[lower] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return {
    ok: true,
    method: line.method,
    target: tgt.target,
    host: tgt.host,
    forwardHeaders,
    facts: { method: line.method, path: tgt.target, host: tgt.host, headers },
    contentLength,
    chunked,
  };
}

/** Target forms (RFC 9112 sec. 3.2): origin, absolute (must agree with Host), asterisk for OPTIONS only. */
function normalizeTarget(
  method: string,
  url: string,
  host: string,
  opts: PathOptions,
): { ok: true; target: string; host: string } | InvalidRequest {
  if (url === '*') return method === 'OPTIONS' ? { ok: true, target: '*', host } : invalid(400, 'asterisk_form_not_options');
  if (method === 'CONNECT') return invalid(400, 'connect_not_authority_form');
  let originForm = url;
  if (url.charCodeAt(0) !== 0x2f) {
    const m = /^http:\/\/([^/?#]*)(.*)$/i.exec(url);
    if (!m) return invalid(400, 'invalid_target_form');
    const authority = m[1]!;
    if (authority.includes('@')) return invalid(400, 'userinfo_in_authority');
    if (authority.toLowerCase() !== host.toLowerCase()) return invalid(400, 'absolute_form_host_mismatch');
    originForm = m[2]!.length === 0 ? '/' : m[2]!;
    if (originForm.charCodeAt(0) === 0x3f) originForm = `/${originForm}`;
  }
  const p = normalizeOriginTarget(originForm, opts);
  if (!p.ok) return invalid(400, `path:${p.reason}`);
  return { ok: true, target: p.target, host };
}
