/**
 * `tendril proxy`: one L7 redirect in the foreground (docs/reference/proxy-contract.md). Loads
 * policies + world like `policy trace` (same exit 2 messages), starts one proxy listener, prints a
 * `listening` line on stderr, writes flows as JSON lines with `--flows`, and exits 0 on
 * SIGINT/SIGTERM after closing the listener.
 */
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { AggregateInputError, isTendrilError } from '../../core/index.js';
import { CliExit, EXIT, type CliIO } from './context.js';
import { MISSING_PROTOCOLS, PROXY_PROTOCOLS } from '../../config/index.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface ProxyCliOptions {
  policies: string[];
  world: string;
  listen: string;
  destination: string;
  upstream: string;
  protocol: string;
  flows?: string;
  logLevel: string;
  encodedSlashes: string;
  backslash: string;
  dnsRejectResponseCode: string;
}

/** What both proxy kinds load from the flags: policies, world, addresses, the logger and the flow sink (exit 2 on bad input). */
async function loadProxyInputs(opts: ProxyCliOptions, io: CliIO) {
  const [policyLib, proxyLib, observeLib, { default: pino }] = await Promise.all([
    import('../../policy/index.js'),
    import('../../proxy/index.js'),
    import('../../observe/index.js'),
    import('pino'),
  ]);
  let engine;
  let world;
  let listen;
  let dst;
  let upstream;
  try {
    listen = proxyLib.parseAddress(opts.listen, '--listen', true);
    dst = proxyLib.parseDestination(opts.destination, '--destination');
    upstream = proxyLib.parseAddress(opts.upstream, '--upstream');
    const set = policyLib.loadPolicies(opts.policies);
    world = policyLib.loadWorld(opts.world);
    engine = policyLib.createEngine({ policies: set, world });
    for (const w of set.warnings) io.stderr.write(`warning: ${w.message}\n`);
  } catch (err) {
    inputError(err);
  }
  if (!world.byId.has(dst.endpoint)) {
    throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: --destination: endpoint ${dst.endpoint} is not in ${opts.world}`);
  }
  const log = pino({ level: opts.logLevel, base: { pid: process.pid } }, io.stderr as unknown as NodeJS.WritableStream & { write(s: string): boolean });
  const flowStream = opts.flows === undefined ? null : opts.flows === '-' ? io.stdout : createWriteStream(opts.flows, { flags: 'w' });
  const sink = flowStream ? new observeLib.JsonLinesSink(flowStream as NodeJS.WritableStream as import('node:stream').Writable) : observeLib.NULL_SINK;
  return { policyLib, proxyLib, observeLib, engine, world, listen, dst, upstream, log, sink, flowStream };
}

/** `--protocol dns`: UDP and TCP at --listen, judged against the source's egress rules.dns (docs/dns.md). */
async function runDnsProxy(opts: ProxyCliOptions, io: CliIO): Promise<void> {
  if (opts.dnsRejectResponseCode !== 'refused' && opts.dnsRejectResponseCode !== 'nameError') {
    throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: --dns-reject-response-code must be refused or nameError, got ${JSON.stringify(opts.dnsRejectResponseCode)}`);
  }
  const { policyLib, proxyLib, observeLib, engine, world, listen, dst, upstream, log, sink, flowStream } = await loadProxyInputs(opts, io);
  let current: import('../../policy/api.js').PolicyEngine = engine;
  const cache = new proxyLib.FqdnCache();
  cache.onChange((names) => {
    current = current.withLearnedFqdns?.(names) ?? current;
  });
  const sweep = setInterval(() => void cache.sweep(), 1000);
  sweep.unref();
  const dstIp = world.byId.get(dst.endpoint)?.ips[0];
  const proxy = new proxyLib.DnsProxy({
    listen,
    source: new proxyLib.ExplicitDnsSource(
      { destinationEndpoint: dst.endpoint, destinationPort: dst.port, upstream, ...(dstIp ? { destinationIp: dstIp } : {}) },
      (ip) => current.endpointByIp(ip),
    ),
    engine: () => current,
    log,
    flows: sink,
    describe: proxyLib.describeFromWorld(world, policyLib.endpointIdentityNumbers(world)),
    cache,
    options: { rejectResponseCode: opts.dnsRejectResponseCode },
  });
  try {
    await proxy.start();
  } catch (err) {
    if (isTendrilError(err)) throw new CliExit(EXIT.FAILURE, `error: ${err.code}: ${err.message}`);
    throw err;
  }
  const a = proxy.address;
  io.stderr.write(`tendril proxy listening on ${a.host}:${a.port} (dns, UDP and TCP) for ${dst.endpoint}:${dst.port}, upstream ${upstream.host}:${upstream.port}\n`);
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      clearInterval(sweep);
      setTimeout(() => process.exit(0), 3000).unref();
      void proxy
        .close()
        .then(() => ('close' in sink && flowStream !== io.stdout ? (sink as { close(): Promise<void> }).close() : undefined))
        .finally(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function inputError(err: unknown): never {
  if (isTendrilError(err)) {
    const list = err instanceof AggregateInputError ? err.errors : [err];
    throw new CliExit(EXIT.USAGE, list.map((e) => `error: ${e.code}: ${e.message}`).join('\n'));
  }
  throw err;
}

export function registerProxy(program: Command, io: CliIO): void {
  program
    .command('proxy')
    .description('run the L7 proxy for one redirect in the foreground (docs/reference/proxy-contract.md)')
    .requiredOption('--policies <path>', 'policy file or directory (repeatable)', collect, [])
    .requiredOption('--world <file>', 'world.yaml: namespaces, endpoints, fqdns, entities')
    .requiredOption('--listen <host:port>', 'address the proxy listens on, e.g. 127.0.0.1:15080')
    .requiredOption('--destination <ns/pod:port>', 'the endpoint and port this redirect stands for')
    .requiredOption('--upstream <host:port>', 'where allowed requests are sent')
    .option('--protocol <name>', 'http | grpc | kafka | dns', 'http')
    .option('--flows <file|->', 'write every request/response/denial flow as a JSON line (- = stdout)')
    .option('--log-level <level>', 'pino log level for operational logs on stderr', 'warn')
    .option('--encoded-slashes <mode>', '%2F/%5C in paths: reject (400) or keep', 'reject')
    .option('--backslash <mode>', 'raw \\ in paths: reject (400) or slash (treat as /)', 'reject')
    .option('--dns-reject-response-code <code>', 'dns: answer to a denied query, refused or nameError (NXDOMAIN)', 'refused')
    .action(async (opts: ProxyCliOptions) => {
      if (opts.protocol === 'dns') return runDnsProxy(opts, io);
      if (!PROXY_PROTOCOLS.includes(opts.protocol)) {
        if (MISSING_PROTOCOLS.includes(opts.protocol)) {
          throw new CliExit(EXIT.USAGE, `error: TND_CONFIG_UNSUPPORTED: --protocol ${opts.protocol}: the proxy parses only ${PROXY_PROTOCOLS.join(', ')}; ${MISSING_PROTOCOLS.join(' and ')} are not available`);
        }
        throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: --protocol must be http, grpc, kafka or dns, got ${JSON.stringify(opts.protocol)}`);
      }
      if (opts.encodedSlashes !== 'reject' && opts.encodedSlashes !== 'keep') {
        throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: --encoded-slashes must be reject or keep, got ${JSON.stringify(opts.encodedSlashes)}`);
      }
      if (opts.backslash !== 'reject' && opts.backslash !== 'slash') {
        throw new CliExit(EXIT.USAGE, `error: TND_CLI_USAGE: --backslash must be reject or slash, got ${JSON.stringify(opts.backslash)}`);
      }
      const { policyLib, proxyLib, observeLib, engine, world, listen, dst, upstream, log, sink, flowStream } = await loadProxyInputs(opts, io);
      const e = engine;
      const dstIp = world.byId.get(dst.endpoint)?.ips[0];
      let proxy;
      try {
        proxy = await proxyLib.startProxy({
          engine: e,
          log,
          flows: sink,
          describe: proxyLib.describeFromWorld(world, policyLib.endpointIdentityNumbers(world)),
          limits: { encodedSlashes: opts.encodedSlashes, backslash: opts.backslash },
          redirects: [
            {
              listen,
              protocol: opts.protocol === 'kafka' ? 'kafka' : 'http',
              ...(opts.protocol === 'kafka' ? { advertise: 'listen' as const } : {}),
              source: new proxyLib.ExplicitRedirectSource(
                { destinationEndpoint: dst.endpoint, destinationPort: dst.port, upstream, ...(dstIp ? { destinationIp: dstIp } : {}) },
                (ip) => e.endpointByIp(ip),
              ),
            },
          ],
        });
      } catch (err) {
        if (isTendrilError(err)) throw new CliExit(EXIT.FAILURE, `error: ${err.code}: ${err.message}`);
        throw err;
      }
      const a = proxy.listeners[0]!.address;
      io.stderr.write(`tendril proxy listening on ${a.host}:${a.port} (${opts.protocol}) for ${dst.endpoint}:${dst.port}, upstream ${upstream.host}:${upstream.port}\n`);
      const running = proxy;
      await new Promise<void>((resolve) => {
        const onSignal = (): void => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          // Never hang on shutdown: a stuck client connection must not turn SIGTERM into a kill.
          setTimeout(() => process.exit(0), 3000).unref();
          void running
            .close()
            .then(() => ('close' in sink && flowStream !== io.stdout ? (sink as { close(): Promise<void> }).close() : undefined))
            .finally(resolve);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
    });
}
