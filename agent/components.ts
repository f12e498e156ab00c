/**
 * Builds the agent's components from Config in start order. Each area exposes a factory; this
 * file only wires them together.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Component } from './agent.js';
import type { LoadedPolicy } from './policy-source.js';

export function buildComponents(_ctx: { config: Config; log: Logger; policy: LoadedPolicy }): Component[] {
  return [];
}
