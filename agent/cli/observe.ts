// Placeholder registration: replaced by the issue that builds `tendril observe`.
import type { Command } from 'commander';
import type { CliIO } from './context.js';

export function registerObserve(_program: Command, _io: CliIO): void {}
