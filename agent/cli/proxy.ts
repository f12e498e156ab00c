// Placeholder registration: replaced by the issue that builds `tendril proxy`.
import type { Command } from 'commander';
import type { CliIO } from './context.js';

export function registerProxy(_program: Command, _io: CliIO): void {}
