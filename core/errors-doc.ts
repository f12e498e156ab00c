import { ERROR_CODES } from './codes.js';

/** The docs/errors.md text for the current registry (kept in sync by a test). */
export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES)
    .map(([code, when]) => `| \`${code}\` | ${when} |`)
    .join('\n');
  return (
    '# Error codes\n\n' +
    'Every error Tendril raises carries a stable `code`; match on it, never on message text.\n' +
    'Generated from `core/codes.ts` by `npx tsx scripts/gen-errors-doc.ts`.\n\n' +
    '| code | raised when |\n| --- | --- |\n' +
    rows +
    '\n'
  );
}
