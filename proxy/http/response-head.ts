/**
 * Re-serialization of the heads the engine writes: the judged request as the upstream receives
 * it (normalized target, the single Host, the forwarded fields, regenerated framing) and the
 * upstream's response head as the client receives it (hop-by-hop fields and the fields the
 * upstream's `Connection` nominates dropped, framing regenerated). Header bytes are latin1 in and
 * out, exactly as llhttp accepted them.
 */
import { STATUS_CODES } from 'node:http';
import type { ValidRequest } from './validate-request.js';

/** Response fields never relayed (RFC 9110 sec. 7.6.1); framing is regenerated. */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'http2-settings', 'content-length']);

/** The request head sent upstream. `upgrade`: a WebSocket handshake (adds `connection`/`upgrade`). */
export function requestHead(v: ValidRequest, upgrade: boolean): string {
  let h = `${v.method} ${v.target} HTTP/1.1\r\nhost: ${v.host}\r\n`;
  const f = v.forwardHeaders;
  for (let i = 0; i < f.length; i += 2) h += `${f[i]}: ${f[i + 1]}\r\n`;
  if (v.chunked) h += 'transfer-encoding: chunked\r\n';
  else if (v.contentLength !== null) h += `content-length: ${v.contentLength}\r\n`;
  if (upgrade) h += 'connection: Upgrade\r\nupgrade: websocket\r\n';
  return `${h}\r\n`;
}

export interface ResponseFraming {
  /** The upstream's Content-Length, or null. */
  contentLength: string | null;
  /** The upstream framed the body with Transfer-Encoding (chunked or read-to-close). */
  transferEncoded: boolean;
}

/**
 * The relayed fields as one `name: value\r\n` block (names lower-cased) plus what the upstream
 * said about framing. For a 101 the `upgrade` field is kept.
 */
export function relayedFields(headers: readonly string[], keepUpgrade: boolean): { block: string; framing: ResponseFraming } {
  let block = '';
  let contentLength: string | null = null;
  let transferEncoded = false;
  let nominated: Set<string> | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'connection') {
      for (const t of headers[i + 1]!.toLowerCase().split(',')) {
        const token = t.trim();
        if (token.length > 0 && !RESPONSE_HOP_BY_HOP.has(token)) (nominated ??= new Set()).add(token);
      }
    }
  }
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'content-length') contentLength = headers[i + 1]!;
    else if (name === 'transfer-encoding') transferEncoded = true;
    if (RESPONSE_HOP_BY_HOP.has(name) && !(keepUpgrade && name === 'upgrade')) continue;
    if (nominated !== null && nominated.has(name)) continue;
    block += `${name}: ${headers[i + 1]}\r\n`;
  }
  return { block, framing: { contentLength, transferEncoded } };
}

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
}
