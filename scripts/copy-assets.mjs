#!/usr/bin/env node
// Copies the non-TypeScript files the compiled agent needs into dist/ (tsc copies only .ts output):
// the Hubble .proto definitions, loaded at run time by observe/proto-load.ts.
import { cpSync, mkdirSync } from 'node:fs';

const root = new URL('..', import.meta.url);
for (const dir of ['observe/proto']) {
  mkdirSync(new URL(`dist/${dir}`, root), { recursive: true });
  cpSync(new URL(dir, root), new URL(`dist/${dir}`, root), { recursive: true });
}
