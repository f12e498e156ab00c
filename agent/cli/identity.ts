/**
 * `tendril identity parse-id` and `tendril identity verify` (docs/identity.md; the contract's
 * exit codes: 0 accepted, 1 rejected, 2 unreadable input or bad usage).
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { KeyObject, X509Certificate } from 'node:crypto';
import {
  normalizeTrustDomain,
  parseSpiffeId,
  readCertificates,
  readPrivateKey,
  verifySvid,
  SpiffeIdError,
} from '../../identity/index.js';
import { CliExit, EXIT, type CliIO } from './context.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function readInput<T>(file: string, what: string, parse: (buf: Buffer) => T): T {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new CliExit(EXIT.USAGE, `error: cannot read ${what} file ${file}: ${(err as Error).message}`);
  }
  try {
    return parse(buf);
  } catch (err) {
    throw new CliExit(EXIT.USAGE, `error: ${what} file ${file}: ${(err as Error).message}`);
  }
}

interface VerifyOpts {
  bundle: string[];
  chain: string;
  key?: string;
  expect?: string;
  role: string;
  at?: string;
}

export function registerIdentity(program: Command, io: CliIO): void {
  const cmd = program.command('identity').description('SPIFFE workload identity: parse IDs, verify X.509-SVIDs (docs/identity.md)');

  cmd
    .command('parse-id')
    .description('parse a SPIFFE ID strictly; prints {"id","trustDomain","path"} or exits 1 with the reason')
    .argument('<spiffe-id>', 'e.g. spiffe://cluster.local/ns/payments/sa/payment-service')
    .action((value: string) => {
      try {
        const id = parseSpiffeId(value);
        io.stdout.write(`${JSON.stringify({ id: id.id, trustDomain: id.trustDomain, path: id.path })}\n`);
      } catch (err) {
        if (err instanceof SpiffeIdError) throw new CliExit(EXIT.FAILURE, `invalid SPIFFE ID: ${err.message}`);
        throw err;
      }
    });

  cmd
    .command('verify')
    .description(
      'verify an X.509-SVID chain as the tunnel does; prints {"spiffeId","trustDomain","notAfter"} or exits 1 with "rejected: CODE: reason"',
    )
    .requiredOption('--bundle <trust-domain=file>', 'roots of a trust domain, PEM or DER (repeatable)', collect)
    .requiredOption('--chain <file>', 'the presented chain, leaf first: PEM blocks, DER or concatenated DER')
    .option('--key <file>', 'PKCS#8 private key (PEM or DER) that must match the leaf')
    .option('--expect <spiffe-id>', 'the exact SPIFFE ID required')
    .option('--role <role>', 'which end presented the chain: client | server', 'client')
    .option('--at <time>', 'verification time, RFC 3339 (default: now)')
    .action((opts: VerifyOpts) => {
      if (opts.role !== 'client' && opts.role !== 'server') throw new CliExit(EXIT.USAGE, `error: --role must be client or server, not ${JSON.stringify(opts.role)}`);
      let at: Date | undefined;
      if (opts.at !== undefined) {
        if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(opts.at) || Number.isNaN(Date.parse(opts.at))) {
          throw new CliExit(EXIT.USAGE, `error: --at ${JSON.stringify(opts.at)} is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)`);
        }
        at = new Date(opts.at);
      }
      if (opts.expect !== undefined) {
        try {
          parseSpiffeId(opts.expect);
        } catch (err) {
          throw new CliExit(EXIT.USAGE, `error: --expect: invalid SPIFFE ID: ${(err as Error).message}`);
        }
      }
      const bundles = new Map<string, X509Certificate[]>();
      for (const spec of opts.bundle) {
        const eq = spec.indexOf('=');
        if (eq <= 0 || eq === spec.length - 1) throw new CliExit(EXIT.USAGE, `error: --bundle ${JSON.stringify(spec)}: expected <trust-domain>=<file>`);
        let td: string;
        try {
          td = normalizeTrustDomain(spec.slice(0, eq));
        } catch (err) {
          throw new CliExit(EXIT.USAGE, `error: --bundle ${JSON.stringify(spec)}: invalid trust domain: ${(err as Error).message}`);
        }
        const file = spec.slice(eq + 1);
        const certs = readInput(file, 'bundle', readCertificates);
        bundles.set(td, [...(bundles.get(td) ?? []), ...certs]);
      }
      const chain = readInput(opts.chain, 'chain', readCertificates);
      const key: KeyObject | undefined = opts.key !== undefined ? readInput(opts.key, 'key', readPrivateKey) : undefined;
      const result = verifySvid({
        chain,
        bundles,
        role: opts.role,
        ...(at ? { at } : {}),
        ...(opts.expect !== undefined ? { expect: opts.expect } : {}),
        ...(key ? { key } : {}),
      });
      if (!result.ok) throw new CliExit(EXIT.FAILURE, `rejected: ${result.code}: ${result.reason}`);
      io.stdout.write(`${JSON.stringify({ spiffeId: result.spiffeId, trustDomain: result.trustDomain, notAfter: result.notAfter.toISOString() })}\n`);
    });
}
