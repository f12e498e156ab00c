/**
 * Response rewriting (docs/kafka.md "Version clamping", "Broker addresses"):
 * - ApiVersions: every MaxVersion is lowered in place to the highest version Tendril has a table
 *   for (Produce and Fetch stop at 12, before topic IDs), so clients negotiate versions whose
 *   topics the proxy can read. Patched in place: nothing else in the response changes.
 * - Metadata and FindCoordinator (explicit mode only): broker and coordinator addresses are
 *   replaced by the proxy's listen address so clients reconnect through the proxy.
 */
import { API_TABLES, apiTable } from './apis.js';
import { decodeStruct, encodeStruct, readTagged, type Rec } from './schema.js';
import { Reader, Writer, malformed } from './wire.js';

const UNSUPPORTED_VERSION = 35;

/** Highest version the proxy parses for `key`, or null when it has no table (left unchanged). */
export function versionCap(key: number): number | null {
  const t = API_TABLES.get(key);
  return t ? t.versions[1] : null;
}

/**
 * Clamps an ApiVersions response frame (without the size prefix) in place. `requestVersion` is
 * the version the client asked with; a broker that does not know it answers with a v0 body and
 * error 35 (KIP-511), which is walked as v0. Throws on a malformed response.
 */
export function clampApiVersions(frame: Buffer, requestVersion: number): void {
  const r = new Reader(frame, 4); // response header v0: correlation id only
  const errorCode = r.int16('ErrorCode');
  const flex = requestVersion >= 3 && errorCode !== UNSUPPORTED_VERSION;
  const n = r.arrayCount(flex, false, 6, 'ApiKeys');
  for (let i = 0; i < n; i++) {
    const key = r.int16('ApiKey');
    const min = r.int16('MinVersion');
    const at = r.pos;
    const max = r.int16('MaxVersion');
    const cap = versionCap(key);
    if (cap !== null && max > cap && cap >= min) frame.writeInt16BE(cap, at);
    if (flex) readTagged([], 0, r, {});
  }
}

export interface Advertised {
  host: string;
  port: number;
}

/** Rewrites broker addresses in a Metadata (3) or FindCoordinator (10) response frame (after the size prefix); returns the new frame (with size prefix). */
export function rewriteBrokers(frame: Buffer, apiKey: number, apiVersion: number, to: Advertised): Buffer {
  const table = apiTable(apiKey, apiVersion);
  if (!table || (apiKey !== 3 && apiKey !== 10)) throw malformed(`no broker rewrite for API key ${apiKey} v${apiVersion}`);
  const flex = apiVersion >= table.flexible;
  const r = new Reader(frame);
  const correlationId = r.int32('correlation_id');
  const headerTags: Rec = {};
  if (flex) readTagged([], 0, r, headerTags);
  const body = decodeStruct(table.response, apiVersion, flex, r);
  if (r.remaining !== 0) throw malformed(`Kafka ${table.name} v${apiVersion} response has ${r.remaining} leftover bytes`, 'body');
  if (apiKey === 3) {
    for (const b of body.Brokers as Rec[]) {
      b.Host = to.host;
      b.Port = to.port;
    }
  } else if (apiVersion <= 3) {
    if (body.ErrorCode === 0) {
      body.Host = to.host;
      body.Port = to.port;
    }
  } else {
    for (const c of body.Coordinators as Rec[]) {
      if (c.ErrorCode !== 0) continue;
      c.Host = to.host;
      c.Port = to.port;
    }
  }
  const w = new Writer(frame.length + 64);
  w.int32(0).int32(correlationId);
  if (flex) encodeStruct([], 0, true, w, headerTags);
  encodeStruct(table.response, apiVersion, flex, w, body);
  const out = Buffer.from(w.done());
  out.writeInt32BE(out.length - 4, 0);
  return out;
}
