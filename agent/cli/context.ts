/** What every CLI command module receives: where to write, and how to exit. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Exit codes shared by all commands. */
export const EXIT = {
  OK: 0,
  /** A run that completed but found problems (e.g. validate with errors). */
  FAILURE: 1,
  /** Bad usage or invalid input (bad flags, invalid policy, unknown endpoint). */
  USAGE: 2,
} as const;

/** Thrown by command actions to end the process with a code after printing `message`. */
export class CliExit extends Error {
  constructor(readonly exitCode: number, message = '') {
    super(message);
  }
}
