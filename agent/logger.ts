/**
 * The one root logger, built from config.log. Pretty output only on a TTY (or when forced);
 * secrets are redacted. Components get children: `log.child({ component: 'proxy' })`.
 */
import pino, { type Logger } from 'pino';
import type { Config } from '../config/index.js';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.privateKey',
  '*.private_key',
  'privateKey',
];

export function createLogger(cfg: Config['log'], stream: NodeJS.WritableStream = process.stderr): Logger {
  const pretty = cfg.pretty === 'always' || (cfg.pretty === 'auto' && (stream as NodeJS.WriteStream).isTTY === true);
  const options: pino.LoggerOptions = {
    level: cfg.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l' } }));
  }
  return pino(options, stream as pino.DestinationStream);
}
