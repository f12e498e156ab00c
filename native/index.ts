/**
 * native/: the libbpf N-API addon and its typed facade. This file is the ONLY loader of the
 * .node binary. Everything that touches a BPF object goes through `BpfObject` here:
 * open/load with a per-run pin root, typed map access (codecs in ./codecs.ts mirror
 * bpf/include/tendril.h), cgroup / tcx / sk_msg attachments held as fds by this process (a crash
 * detaches them), and a ring-buffer consumer that runs on the event loop without blocking it.
 *
 * Lifetimes: every BpfObject and RingBuffer has close(); the owner (datapath/) closes them
 * on shutdown. Maps pinned under the pin root survive close() unless `close({ unpin: true })`.
 */
import { createRequire } from 'node:module';
import { existsSync, statSync } from 'node:fs';
import { isBpffs, SYS_BPFFS } from './bpffs.js';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { TendrilError, type ErrorCode } from '../core/index.js';
import { MAPS, type KeyOf, type MapName, type ValueOf } from './codecs.js';
import type { Codec } from './struct.js';

export * from './codecs.js';
export { preparePinRoot, isBpffs, releaseMounted, type PinRoot } from './bpffs.js';
export type { Codec, FieldLayout } from './struct.js';

interface RawBpfObject {
  maps(): RawMapInfo[];
  programs(): string[];
  lookup(map: string, key: Buffer): Buffer | null;
  update(map: string, key: Buffer, value: Buffer, flags: number): void;
  remove(map: string, key: Buffer): boolean;
  keys(map: string): Buffer[];
  attachCgroup(prog: string, dir: string): number;
  attachTcx(prog: string, netnsPath: string, ifname: string, egress: boolean): number;
  attachSkMsg(prog: string, map: string): number;
  detach(id: number): boolean;
  testRun(prog: string, packet: Buffer, repeat: number): TestRunResult;
  loadLog(): string;
  unpinMaps(): void;
  close(): void;
}
interface RawRingBuffer {
  close(): void;
  drain(): number;
}
interface Addon {
  BpfObject: new (path: string, pinRoot: string) => RawBpfObject;
  RingBuffer: new (obj: RawBpfObject, map: string, cb: (rec: Buffer) => void) => RawRingBuffer;
  libbpfVersion: string;
}

export interface TestRunResult {
  /** The program's return code (tc: 0 TC_ACT_OK, 2 TC_ACT_SHOT). */
  retval: number;
  /** Average run time per repetition, ns. */
  durationNs: number;
  data: Buffer;
}

export interface RawMapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  pinPath?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
/** Where the addon may be: beside the sources, or (from dist/native) back in the source tree. */
export const ADDON_CANDIDATES = [
  join(here, 'build', 'Release', 'tendril_bpf.node'),
  resolve(here, '..', '..', 'native', 'build', 'Release', 'tendril_bpf.node'),
];

let cached: Addon | null = null;

/** Loads the addon once; throws TND_NATIVE_MISSING naming the fix when it is not built. */
export function loadAddon(): Addon {
  if (cached) return cached;
  const path = ADDON_CANDIDATES.find((p) => existsSync(p));
  if (!path) {
    throw new TendrilError(
      'TND_NATIVE_MISSING',
      `the libbpf addon is not built (looked for ${ADDON_CANDIDATES.join(', ')}). Fix: run \`npm run build:native\` ` +
        '(needs g++, make, libbpf-dev, libelf-dev, zlib1g-dev) and `npm run build:bpf` (needs clang, bpftool)',
      { candidates: ADDON_CANDIDATES },
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    throw new TendrilError(
      'TND_NATIVE_MISSING',
      `the libbpf addon at ${path} could not be loaded: ${(err as Error).message}. Fix: rebuild it with \`npm run build:native\``,
      { path },
      { cause: err },
    );
  }
  return cached;
}

export function isAddonAvailable(): boolean {
  return ADDON_CANDIDATES.some((p) => existsSync(p));
}

/** Re-throws a native error as a TendrilError with its code, errno, call and verifier log. */
function wrap<T>(fallback: ErrorCode, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TendrilError) throw err;
    const e = err as Error & { code?: string; errno?: number; call?: string; log?: string };
    const code = (e.code && e.code.startsWith('TND_') ? e.code : fallback) as ErrorCode;
    throw new TendrilError(code, `${what}: ${e.message}`, { errno: e.errno, call: e.call, log: e.log }, { cause: err });
  }
}

/** A typed view of one map: keys and values go through the codecs from codecs.ts. */
export class TypedMap<K, V> {
  constructor(
    private readonly raw: RawBpfObject,
    readonly name: string,
    readonly key: Codec<K>,
    readonly value: Codec<V>,
  ) {}

  get(k: K): V | null {
    const b = wrap('TND_NATIVE_CALL', `lookup ${this.name}`, () => this.raw.lookup(this.name, this.key.encode(k)));
    return b ? this.value.decode(b) : null;
  }

  /** flags: 0 any, 1 BPF_NOEXIST, 2 BPF_EXIST */
  set(k: K, v: V, flags = 0): void {
    wrap('TND_NATIVE_CALL', `update ${this.name}`, () => this.raw.update(this.name, this.key.encode(k), this.value.encode(v), flags));
  }

  delete(k: K): boolean {
    return wrap('TND_NATIVE_CALL', `delete ${this.name}`, () => this.raw.remove(this.name, this.key.encode(k)));
  }

  keys(): K[] {
    return wrap('TND_NATIVE_CALL', `keys ${this.name}`, () => this.raw.keys(this.name)).map((b) => this.key.decode(b));
  }

  /** Snapshot of all entries (entries that vanish during iteration are skipped). */
  entries(): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    for (const k of this.keys()) {
      const v = this.get(k);
      if (v !== null) out.push([k, v]);
    }
    return out;
  }
}

/** The slice of a pino Logger the facade uses (native/ imports no logging library). */
export interface LibbpfLogSink {
  debug(obj: object, msg: string): void;
}

export interface OpenOptions {
  /** Per-run folder on bpffs for LIBBPF_PIN_BY_NAME maps (from preparePinRoot). Never /sys/fs/bpf itself. */
  pinRoot: string;
  /** Receives libbpf's info/warning lines from open+load (pass a pino child logger). */
  log?: LibbpfLogSink;
}

export type TcxDirection = 'ingress' | 'egress';

/** One opened+loaded BPF object and the attachments made from it. */
export class BpfObject {
  private raw: RawBpfObject | null;
  readonly path: string;
  readonly pinRoot: string;

  private constructor(raw: RawBpfObject, path: string, pinRoot: string) {
    this.raw = raw;
    this.path = path;
    this.pinRoot = pinRoot;
  }

  static open(path: string, opts: OpenOptions): BpfObject {
    const addon = loadAddon();
    const pinRoot = resolve(opts.pinRoot);
    if (pinRoot === SYS_BPFFS || !isBpffs(pinRoot)) {
      throw new TendrilError(
        'TND_BPF_LOAD',
        `pinRoot must be an existing folder on a bpf filesystem (not ${SYS_BPFFS} itself), got "${opts.pinRoot}". Fix: use preparePinRoot()`,
        { field: 'pinRoot' },
      );
    }
    if (!existsSync(path)) {
      throw new TendrilError('TND_BPF_LOAD', `BPF object ${path} does not exist. Fix: run \`npm run build:bpf\``, { file: path });
    }
    const raw = wrap('TND_BPF_LOAD', `load ${path}`, () => new addon.BpfObject(path, pinRoot));
    const libbpfLog = raw.loadLog().trim();
    if (libbpfLog && opts.log) opts.log.debug({ object: path, libbpf: libbpfLog.split('\n').slice(0, 200) }, 'libbpf load log');
    return new BpfObject(raw, path, pinRoot);
  }

  private get r(): RawBpfObject {
    if (!this.raw) throw new TendrilError('TND_NATIVE_CALL', `BPF object ${this.path} is closed`);
    return this.raw;
  }

  get isClosed(): boolean {
    return this.raw === null;
  }

  maps(): RawMapInfo[] {
    return this.r.maps();
  }

  programs(): string[] {
    return this.r.programs();
  }

  /** A typed map from the table in codecs.ts. */
  map<M extends MapName>(name: M): TypedMap<KeyOf<M>, ValueOf<M>> {
    const spec = MAPS[name];
    return new TypedMap(this.r, name, spec.key as unknown as Codec<KeyOf<M>>, spec.value as unknown as Codec<ValueOf<M>>);
  }

  /** Any map with caller-supplied codecs (sizes are checked by the addon). */
  mapWith<K, V>(name: string, key: Codec<K>, value: Codec<V>): TypedMap<K, V> {
    return new TypedMap(this.r, name, key, value);
  }

  /** Attaches a cgroup program (connect4, sendmsg4, recvmsg4, getpeername4, getsockopt, sockops) as a bpf_link. */
  attachCgroup(prog: string, cgroupDir: string): number {
    const st = statSync(cgroupDir, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw new TendrilError('TND_BPF_ATTACH', `cgroup ${cgroupDir} does not exist`, { cgroupDir });
    if (st.ino === 1) throw new TendrilError('TND_BPF_ATTACH', `refusing to attach ${prog} to the root cgroup ${cgroupDir}`, { cgroupDir });
    return wrap('TND_BPF_ATTACH', `attach ${prog} to cgroup ${cgroupDir}`, () => this.r.attachCgroup(prog, cgroupDir));
  }

  /**
   * Attaches a tc program with a tcx link on ifname inside the netns at netnsPath (e.g.
   * /run/netns/<name>). Refuses the caller's own netns: the agent only attaches to pod interfaces.
   */
  attachTcx(prog: string, netnsPath: string, ifname: string, direction: TcxDirection): number {
    const target = statSync(netnsPath, { throwIfNoEntry: false });
    if (!target) throw new TendrilError('TND_BPF_ATTACH', `netns ${netnsPath} does not exist`, { netnsPath });
    const own = statSync('/proc/self/ns/net');
    if (target.ino === own.ino && target.dev === own.dev) {
      throw new TendrilError('TND_BPF_ATTACH', `refusing to attach ${prog} in the agent's own netns (${netnsPath})`, { netnsPath, ifname });
    }
    return wrap('TND_BPF_ATTACH', `attach ${prog} (tcx ${direction}) to ${ifname} in ${netnsPath}`, () =>
      this.r.attachTcx(prog, netnsPath, ifname, direction === 'egress'),
    );
  }

  /** Attaches an sk_msg program to a sockhash map (lives until detach/close). */
  attachSkMsg(prog: string, sockhash: string): number {
    return wrap('TND_BPF_ATTACH', `attach ${prog} to ${sockhash}`, () => this.r.attachSkMsg(prog, sockhash));
  }

  detach(id: number): boolean {
    return wrap('TND_NATIVE_CALL', `detach ${id}`, () => this.r.detach(id));
  }

  /** Runs a program once (or `repeat` times) on a packet with BPF_PROG_TEST_RUN, unattached. */
  testRun(prog: string, packet: Buffer, repeat = 1): TestRunResult {
    return wrap('TND_NATIVE_CALL', `test run ${prog}`, () => this.r.testRun(prog, packet, repeat));
  }

  /** Starts consuming a ring buffer map; `onRecord` gets a copy of each record. */
  ringBuffer(map: string, onRecord: (rec: Buffer) => void): RingBufferReader {
    const addon = loadAddon();
    const rb = wrap('TND_NATIVE_CALL', `ring buffer ${map}`, () => new addon.RingBuffer(this.r, map, onRecord));
    return new RingBufferReader(rb);
  }

  /** Detaches everything, closes the object, and with unpin removes its pins. Idempotent. */
  close(opts: { unpin?: boolean } = {}): void {
    if (!this.raw) return;
    if (opts.unpin) this.raw.unpinMaps();
    this.raw.close();
    this.raw = null;
  }
}

export class RingBufferReader {
  private raw: RawRingBuffer | null;
  constructor(raw: RawRingBuffer) {
    this.raw = raw;
  }
  /** Consumes whatever is ready right now; returns the number of records delivered so far. */
  drain(): number {
    return this.raw ? this.raw.drain() : 0;
  }
  close(): void {
    this.raw?.close();
    this.raw = null;
  }
}

/** The cgroup v2 id of a cgroup folder (what bpf_get_current_cgroup_id() returns for its members). */
export function cgroupId(dir: string): bigint {
  return statSync(dir, { bigint: true }).ino;
}

export function libbpfVersion(): string {
  return loadAddon().libbpfVersion;
}

/** Default locations of the built BPF objects (bpf/build/*.bpf.o). */
export function defaultObjectPath(name: 'sock' | 'tc'): string {
  const candidates = [resolve(here, '..', 'bpf', 'build', `${name}.bpf.o`), resolve(here, '..', '..', 'bpf', 'build', `${name}.bpf.o`)];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}
