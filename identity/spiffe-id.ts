/**
 * SPIFFE ID parsing, strict as docs/identity.md "SPIFFE ID syntax" describes: scheme exactly
 * `spiffe://`, a lowercase trust domain of `a-z 0-9 . - _` (at most 255 bytes), a path of
 * `/segment` parts of `a-z A-Z 0-9 . - _` without empty, `.` or `..` segments and without a
 * trailing slash, at most 2048 bytes in all. Nothing is normalised: comparison is byte-exact.
 */

export interface SpiffeId {
  /** The whole ID, exactly as given. */
  id: string;
  trustDomain: string;
  /** `""` for a trust-domain ID, else `/seg(/seg)*`. */
  path: string;
}

/** Why a string is not a SPIFFE ID (the reason printed after `invalid SPIFFE ID: `). */
export class SpiffeIdError extends Error {
  override name = 'SpiffeIdError';
}

const SCHEME = 'spiffe://';
export const MAX_ID_BYTES = 2048;
export const MAX_TRUST_DOMAIN_BYTES = 255;
const TD_CHAR = /^[a-z0-9._-]$/;
const SEG_CHAR = /^[a-zA-Z0-9._-]$/;

/** Validates a bare trust domain name (`example.org`); returns the reason it is invalid, or null. */
export function trustDomainProblem(td: string): string | null {
  if (td.length === 0) return 'trust domain is missing';
  if (Buffer.byteLength(td) > MAX_TRUST_DOMAIN_BYTES) return `trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`;
  for (const ch of td) {
    if (!TD_CHAR.test(ch)) {
      return `trust domain character ${JSON.stringify(ch)} is not allowed (only lowercase letters, digits, ".", "-" and "_")`;
    }
  }
  return null;
}

function pathProblem(path: string): string | null {
  if (path === '') return null;
  if (!path.startsWith('/')) return 'path must start with "/"';
  if (path.endsWith('/')) return 'path cannot have a trailing slash';
  for (const seg of path.slice(1).split('/')) {
    if (seg === '') return 'path cannot contain empty segments';
    if (seg === '.' || seg === '..') return 'path cannot contain dot segments';
    for (const ch of seg) {
      if (!SEG_CHAR.test(ch)) {
        return `path character ${JSON.stringify(ch)} is not allowed (only letters, digits, ".", "-" and "_")`;
      }
    }
  }
  return null;
}

/** Parses a SPIFFE ID; throws SpiffeIdError naming the first rule broken. */
export function parseSpiffeId(id: string): SpiffeId {
  if (id.length === 0) throw new SpiffeIdError('cannot be empty');
  if (Buffer.byteLength(id) > MAX_ID_BYTES) throw new SpiffeIdError(`longer than ${MAX_ID_BYTES} bytes`);
  if (!id.startsWith(SCHEME)) throw new SpiffeIdError('scheme is missing or invalid (must be exactly "spiffe://")');
  const rest = id.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const tdErr = trustDomainProblem(trustDomain);
  if (tdErr) throw new SpiffeIdError(tdErr);
  const pErr = pathProblem(path);
  if (pErr) throw new SpiffeIdError(pErr);
  return { id, trustDomain, path };
}

/** Like parseSpiffeId, but returns null instead of throwing. */
export function tryParseSpiffeId(id: string): SpiffeId | null {
  try {
    return parseSpiffeId(id);
  } catch {
    return null;
  }
}

/**
 * A trust domain given either bare (`example.org`) or as its ID (`spiffe://example.org`), as
 * bundle maps key it; returns the bare name or throws SpiffeIdError.
 */
export function normalizeTrustDomain(value: string): string {
  if (value.startsWith(SCHEME)) {
    const parsed = parseSpiffeId(value);
    if (parsed.path !== '') throw new SpiffeIdError('a trust domain ID has no path');
    return parsed.trustDomain;
  }
  const err = trustDomainProblem(value);
  if (err) throw new SpiffeIdError(err);
  return value;
}

/** `spiffe://<td>/ns/<namespace>/sa/<serviceAccount>`: the workload ID convention (docs/identity.md). */
export function workloadId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${SCHEME}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Namespace and service account of an `/ns/<ns>/sa/<sa>` ID, or null for any other path. */
export function namespaceAndServiceAccount(id: SpiffeId): { namespace: string; serviceAccount: string } | null {
  const m = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id.path);
  return m ? { namespace: m[1]!, serviceAccount: m[2]! } : null;
}
