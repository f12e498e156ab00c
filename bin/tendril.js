#!/usr/bin/env node
// Entry point of the `tendril` CLI. Runs the compiled build (dist/) when it exists, otherwise the
// TypeScript sources through tsx (a dev dependency), so a fresh checkout works before `npm run build`.
import { existsSync } from 'node:fs';

process.env.TENDRIL_CLI_MAIN = '1';
const compiled = new URL('../dist/agent/cli/main.js', import.meta.url);
if (existsSync(compiled) && process.env.TENDRIL_FROM_SOURCE !== '1') {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../agent/cli/main.ts', import.meta.url).href);
}
