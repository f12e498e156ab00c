import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeOriginTarget } from './normalize-path.js';

const strict = { encodedSlashes: 'reject', backslash: 'reject' } as const;
const lenient = { encodedSlashes: 'keep', backslash: 'slash' } as const;

test('normalizes per RFC 3986 + Cilium settings (one row per rule)', () => {
  const rows: Array<[string, string]> = [
    ['/', '/'],
    ['/a/b/c', '/a/b/c'],
    ['/a/./b', '/a/b'],
    ['/a/b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/../../a', '/a'],
    ['/a/%2e%2e/b', '/b'],
    ['/a/b/%2E%2E/c', '/a/c'],
    ['/a/.%2e/b', '/b'],
    ['//a///b', '/a/b'],
    ['/a//../b', '/b'],
    ['/%41%42%7e%5f%2d', '/AB~_-'],
    ['/a%3ab', '/a%3Ab'],
    ['/%252e%252e/x', '/%252e%252e/x'],
    ['/caf%C3%A9', '/caf%C3%A9'],
    ['/a?x=%2e%2e/../y', '/a?x=%2e%2e/../y'],
    ['/a/../b?', '/b?'],
    ['/API/x', '/API/x'],
    ['/a;b/c', '/a;b/c'],
  ];
  for (const [input, want] of rows) {
    const r = normalizeOriginTarget(input, strict);
    assert.deepEqual(r, { ok: true, target: want }, input);
  }
});

test('rejects what must never be judged or forwarded, with a stable reason', () => {
  const rows: Array<[string, string]> = [
    ['/a#b', 'fragment_in_path'],
    ['/a\\..\\b', 'backslash_in_path'],
    ['/a%2Fb', 'escaped_slash_in_path'],
    ['/a%5cb', 'escaped_slash_in_path'],
    ['/a%00b', 'percent_00_in_path'],
    ['/a%zzb', 'invalid_percent_encoding'],
    ['/a%4', 'invalid_percent_encoding'],
    ['/a%', 'invalid_percent_encoding'],
    ['/%c0%ae%c0%ae/x', 'invalid_utf8_in_path'],
    ['/%ff', 'invalid_utf8_in_path'],
    ['/a/..;/b', 'dot_segment_with_parameters'],
    ['/a/.;x/b', 'dot_segment_with_parameters'],
    ['/a/%2e%2e;x/b', 'dot_segment_with_parameters'],
    ['/a?q=%00', 'percent_00_in_path'],
    ['/a?q=%g1', 'invalid_percent_encoding'],
    ['a/b', 'path_not_origin_form'],
    ['', 'path_not_origin_form'],
  ];
  for (const [input, reason] of rows) {
    assert.deepEqual(normalizeOriginTarget(input, strict), { ok: false, reason }, input);
  }
});

test('lenient options keep %2F encoded and treat a raw backslash as a separator (Envoy behaviour)', () => {
  assert.deepEqual(normalizeOriginTarget('/a/..%2Fb', lenient), { ok: true, target: '/a/..%2Fb' });
  assert.deepEqual(normalizeOriginTarget('/a/b/..\\c', lenient), { ok: true, target: '/a/c' });
  assert.deepEqual(normalizeOriginTarget('/a%5cb', lenient), { ok: true, target: '/a%5Cb' });
});

test('normalization is idempotent: normalizing the output changes nothing', () => {
  const inputs = ['/a/./b/../c//d', '/%41/%2e%2e/x?y=1', '/a%3a/b/', '/x/%252e/..', '/../a/b/c/../../d'];
  for (const input of inputs) {
    const once = normalizeOriginTarget(input, strict);
    assert.ok(once.ok, input);
    assert.deepEqual(normalizeOriginTarget(once.target, strict), once, input);
  }
});

test('property: any accepted path normalizes to a fixed point without dot segments or empty segments', async () => {
  const fc = await import('fast-check');
  const segment = fc.oneof(
    fc.constantFrom('.', '..', '', '%2e', '%2E%2e', '.%2e', 'a', 'B', '%41', '%7e', '%3a', '%25', '%252e', '..;x', '%c3%a9', '%ff', '%zz', '%2F', '\\'),
    fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{0,6}$/),
  );
  const target = fc.tuple(fc.array(segment, { maxLength: 8 }), fc.option(fc.stringMatching(/^[A-Za-z0-9=&%.\/]{0,8}$/)))
    .map(([segs, q]) => `/${segs.join('/')}${q === null ? '' : `?${q}`}`);
  let accepted = 0;
  fc.assert(
    fc.property(target, (t) => {
      const r = normalizeOriginTarget(t, strict);
      if (!r.ok) return true;
      accepted++;
      const path = r.target.split('?')[0]!;
      const segs = path.split('/').slice(1);
      // No dot segments and no empty segments (except a trailing slash) survive normalization.
      if (segs.some((s, i) => s === '.' || s === '..' || (s === '' && i !== segs.length - 1))) return false;
      // No decodable unreserved escape and no lower-case hex survive.
      if (/%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[dDeE]|5[fF]|7[eE])/.test(path) || /%[0-9A-F]?[a-f]/.test(path)) return false;
      // Idempotent: normalizing the output changes nothing.
      const again = normalizeOriginTarget(r.target, strict);
      return again.ok && again.target === r.target;
    }),
    { numRuns: 3000 },
  );
  assert.ok(accepted > 300, `only ${accepted} generated paths were accepted; the property would be vacuous`);
});
