// Placeholder registration: replaced by the issue that builds `tendril policy`.
import type { Command } from 'commander';
import type { CliIO } from './context.js';

export function registerPolicy(_program: Command, _io: CliIO): void {}
