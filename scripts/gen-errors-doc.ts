// Regenerates docs/errors.md from core/codes.ts: `npx tsx scripts/gen-errors-doc.ts`.
// test/core/codes.test.ts fails when the two disagree.
import { writeFileSync } from 'node:fs';
import { renderErrorsDoc } from '../core/errors-doc.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
