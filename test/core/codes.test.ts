import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, TendrilError, isTendrilError } from '../../core/index.js';
import { renderErrorsDoc } from '../../core/errors-doc.js';

test('docs/errors.md lists exactly the registered codes (regenerate: npx tsx scripts/gen-errors-doc.ts)', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderErrorsDoc());
});

test('every code follows TND_<AREA>_<WHAT> and has a description', () => {
  for (const [code, when] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^TND_[A-Z0-9]+_[A-Z0-9_]+$/, code);
    assert.ok(when.length > 10, `${code} needs a description`);
  }
});

test('TendrilError carries code, context and cause', () => {
  const cause = new Error('inner');
  const err = new TendrilError('TND_POLICY_INVALID_FIELD', 'bad port', { file: 'a.yaml', document: 2, field: 'spec.x' }, { cause });
  assert.ok(isTendrilError(err));
  assert.equal(err.code, 'TND_POLICY_INVALID_FIELD');
  assert.equal(err.context.document, 2);
  assert.equal(err.cause, cause);
  assert.equal(String(err), 'TND_POLICY_INVALID_FIELD: bad port');
});
