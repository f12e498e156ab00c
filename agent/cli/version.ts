import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { CliIO } from './context.js';

function readVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout (source vs dist) */
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();

export function registerVersion(program: Command, io: CliIO): void {
  program
    .command('version')
    .description('print the Tendril version, the Node.js runtime and the kernel it runs on')
    .option('-o, --output <format>', 'output format: text | json', 'text')
    .action((opts: { output: string }) => {
      const info = { version: VERSION, node: process.version, platform: `${process.platform}/${process.arch}`, kernel: release() };
      if (opts.output === 'json') io.stdout.write(`${JSON.stringify(info)}\n`);
      else io.stdout.write(`tendril ${info.version} (node ${info.node}, ${info.platform}, kernel ${info.kernel})\n`);
    });
}
