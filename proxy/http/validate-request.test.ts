import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRequest, type RequestLine } from './validate-request.js';

const opts = { encodedSlashes: 'reject', backslash: 'reject', maxHeaderCount: 10 } as const;
const line = (over: Partial<RequestLine>): RequestLine => ({ method: 'GET', url: '/a', httpVersion: '1.1', rawHeaders: ['Host', 'svc:8080'], ...over });

test('a valid request yields the one normalized form that is judged and forwarded', () => {
  const v = validateRequest(
    line({
      url: '/x/../api//v1?q=1',
      rawHeaders: ['Host', 'svc:8080', 'Connection', 'keep-alive, X-Hop', 'X-Hop', 'h', 'Keep-Alive', 'timeout=5', 'X-A', '1', 'x-a', '2', 'TE', 'trailers', 'Upgrade', 'h2c', 'X-HTTP-Method-Override', 'DELETE'],
    }),
    opts,
  );
  assert.ok(v.ok);
  assert.equal(v.target, '/api/v1?q=1');
  assert.equal(v.host, 'svc:8080');
  assert.deepEqual(v.forwardHeaders, ['X-A', '1', 'x-a', '2']);
  assert.deepEqual(v.facts, { method: 'GET', path: '/api/v1?q=1', host: 'svc:8080', headers: { host: 'svc:8080', 'x-a': ['1', '2'] } });
});

test('absolute-form becomes origin-form when its authority agrees with Host', () => {
  const v = validateRequest(line({ url: 'http://SVC:8080/a/./b?x' }), opts);
  assert.ok(v.ok);
  assert.equal(v.target, '/a/b?x');
  assert.equal(validateRequest(line({ url: 'http://svc:8080' }), opts).ok && (validateRequest(line({ url: 'http://svc:8080' }), opts) as { target: string }).target, '/');
});

test('transfer-coding names are case-insensitive: CHUNKED and Chunked are chunked framing', () => {
  for (const te of ['chunked', 'CHUNKED', 'Chunked', ' cHuNkEd ']) {
    const v = validateRequest(line({ method: 'POST', rawHeaders: ['Host', 'a', 'Transfer-Encoding', te] }), opts);
    assert.ok(v.ok, te);
    assert.equal(v.chunked, true, te);
  }
  assert.deepEqual(validateRequest(line({ rawHeaders: ['Host', 'a', 'Transfer-Encoding', 'CHUNKED, gzip'] }), opts), { ok: false, status: 501, reason: 'te_not_chunked' });
});

test('rejections: status and reason per hardened rule', async (t) => {
  const rows: Array<[Partial<RequestLine>, number, string]> = [
    [{ httpVersion: '0.9' }, 400, 'unsupported_http_version'],
    [{ httpVersion: '2.0' }, 400, 'unsupported_http_version'],
    [{ rawHeaders: [] }, 400, 'missing_host'],
    [{ rawHeaders: ['Host', 'a', 'host', 'b'] }, 400, 'duplicate_host'],
    [{ rawHeaders: ['Host', 'a b'] }, 400, 'invalid_host'],
    [{ rawHeaders: ['Host', 'u@a'] }, 400, 'invalid_host'],
    [{ rawHeaders: ['Host', 'a', 'Content-Length', '1', 'content-length', '1'] }, 400, 'duplicate_content_length'],
    [{ rawHeaders: ['Host', 'a', 'Content-Length', '1', 'Transfer-Encoding', 'chunked'] }, 400, 'content_length_and_chunked'],
    [{ rawHeaders: ['Host', 'a', 'Transfer-Encoding', 'gzip, chunked'] }, 501, 'te_not_chunked'],
    [{ rawHeaders: ['Host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'] }, 400, 'duplicate_transfer_encoding'],
    [{ httpVersion: '1.0', rawHeaders: ['Host', 'a', 'Transfer-Encoding', 'chunked'] }, 400, 'transfer_encoding_in_http10'],
    [{ rawHeaders: ['Host', 'a', 'Connection', 'close, Host'] }, 400, 'connection_nominates_framing_header'],
    [{ rawHeaders: ['Host', 'a', ':path', '/admin'] }, 400, 'pseudo_header_in_http1'],
    [{ rawHeaders: ['Host', 'a', ...Array.from({ length: 10 }, (_, i) => [`x-${i}`, 'v']).flat()] }, 431, 'too_many_headers'],
    [{ url: '*' }, 400, 'asterisk_form_not_options'],
    [{ url: 'http://other/a' }, 400, 'absolute_form_host_mismatch'],
    [{ url: 'http://u@svc:8080/a', rawHeaders: ['Host', 'u@svc:8080'] }, 400, 'invalid_host'],
    [{ url: 'http://u@svc:8080/a' }, 400, 'userinfo_in_authority'],
    [{ url: 'https://svc:8080/a' }, 400, 'invalid_target_form'],
    [{ url: '/a%2fb' }, 400, 'path:escaped_slash_in_path'],
    [{ url: '/a/..;/b' }, 400, 'path:dot_segment_with_parameters'],
  ];
  for (const [over, status, reason] of rows) {
    await t.test(`${reason} ${JSON.stringify(over)}`, () => {
      const l = line(over);
      if (over.url?.startsWith('http://u@') && !over.rawHeaders) l.rawHeaders = ['Host', 'svc:8080'];
      assert.deepEqual(validateRequest(l, opts), { ok: false, status, reason }, JSON.stringify(over));
    });
  }
});

test('OPTIONS * is the only asterisk-form', () => {
  const v = validateRequest(line({ method: 'OPTIONS', url: '*' }), opts);
  assert.ok(v.ok);
  assert.equal(v.target, '*');
});
