/**
 * `npm run bench [-- <area> ...]`: runs every benchmark module in bench/ (each exports
 * `run(log)`), or only the named areas. Each module measures its own baseline in the same run
 * and prints ratios against it; this runner only sequences them and times the whole.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule {
  run(log: (line: string) => void): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const areas = readdirSync(here)
  .filter((f) => /\.ts$/.test(f) && f !== 'run.ts' && !f.endsWith('.test.ts') && !f.startsWith('_'))
  .map((f) => basename(f, '.ts'))
  .sort();

const selected = wanted.length ? wanted : areas;
const unknown = selected.filter((a) => !areas.includes(a));
if (unknown.length) {
  console.error(`bench: unknown area(s) ${unknown.join(', ')}; available: ${areas.join(', ') || '(none yet)'}`);
  process.exit(2);
}
if (selected.length === 0) {
  console.log('bench: no benchmark suites yet');
  process.exit(0);
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
let failed = 0;
for (const area of selected) {
  const t0 = performance.now();
  log(`\n=== bench: ${area} ===`);
  try {
    const mod = (await import(pathToFileURL(join(here, `${area}.ts`)).href)) as BenchModule;
    await mod.run(log);
    log(`=== ${area}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s ===`);
  } catch (err) {
    failed++;
    log(`=== ${area}: FAILED: ${(err as Error).stack ?? String(err)} ===`);
  }
}
process.exit(failed ? 1 : 0);
