/**
 * The agent's policy state and its standalone source.
 *
 * `PolicyState` is the one model both sources feed (docs/kubernetes.md "One model, two sources"):
 * a PolicySet plus a World, compiled into an Engine behind a SwappableEngine. `apply()` validates
 * the whole next state (parse errors, L7 conflicts) and swaps it in one step; when anything is
 * invalid the running set stays, the error is kept for `tendril status` and counted for
 * `/metrics`, and nothing is half-applied.
 *
 * `StandaloneSource` reads the policy files/directories and world.yaml, and watches them: a change
 * is re-read (unchanged files keep their parsed rules, so the engine recomputes only what the
 * changed documents select) and applied through `PolicyState.apply()`.
 */
import { readdirSync, readFileSync, statSync, watch, type Dirent, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { AggregateInputError, TendrilError } from '../core/index.js';
import {
  createEngine,
  listYamlFiles,
  mergePolicySets,
  parsePolicyText,
  parseWorld,
  SwappableEngine,
  type Engine,
  type PolicySet,
  type World,
} from '../policy/index.js';

export interface PolicySummary {
  policyFiles: string[];
  world: string;
  policies: number;
  endpoints: number;
}

/** What components read: the engine (stable object, swapped snapshots), the current world, listeners. */
export interface LoadedPolicy {
  readonly engine: SwappableEngine;
  readonly world: World;
  readonly summary: PolicySummary;
  /** Called after every successful swap (datapath identities, flow descriptions). */
  onChange(fn: (world: World) => void): void;
}

export interface PolicyChangeStats {
  revision: number;
  success: number;
  failure: number;
  lastChange: string | null;
  /** The error that kept the running set, until the next successful change. */
  lastError: string | null;
  lastErrorAt: string | null;
}

export class PolicyState implements LoadedPolicy {
  readonly engine: SwappableEngine;
  private policies: PolicySet;
  private currentWorld: World;
  private readonly listeners: Array<(world: World) => void> = [];
  readonly stats: PolicyChangeStats = { revision: 1, success: 0, failure: 0, lastChange: null, lastError: null, lastErrorAt: null };

  constructor(
    policies: PolicySet,
    world: World,
    private readonly describeSource: { policyFiles: string[]; world: string },
    private readonly log: Logger,
  ) {
    this.policies = policies;
    this.currentWorld = world;
    this.engine = new SwappableEngine(createEngine({ policies, world }));
  }

  get world(): World {
    return this.currentWorld;
  }

  get policySet(): PolicySet {
    return this.policies;
  }

  get summary(): PolicySummary {
    return { ...this.describeSource, policies: this.policies.documents.length, endpoints: this.currentWorld.endpoints.length };
  }

  onChange(fn: (world: World) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Validates `next` as a whole and swaps it in; returns false (running set kept) when invalid.
   * `error` is a load error found before compiling (parse errors): it is recorded the same way.
   */
  apply(next: { policies?: PolicySet; world?: World } | { error: unknown }, source: string): boolean {
    const t0 = performance.now();
    if ('error' in next) return this.reject(next.error, source);
    const policies = next.policies ?? this.policies;
    const world = next.world ?? this.currentWorld;
    if (policies === this.policies && world === this.currentWorld) return true;
    let engine: Engine;
    try {
      engine = this.engine.current;
      if (world !== this.currentWorld) engine = engine.withWorld(world);
      if (policies !== this.policies) engine = engine.withPolicies(policies);
    } catch (err) {
      return this.reject(err, source);
    }
    this.policies = policies;
    this.currentWorld = world;
    this.engine.swap(engine);
    this.stats.revision = this.engine.version;
    this.stats.success++;
    this.stats.lastChange = new Date().toISOString();
    this.stats.lastError = null;
    this.stats.lastErrorAt = null;
    this.log.info({ source, revision: this.stats.revision, policies: policies.documents.length, endpoints: world.endpoints.length, ms: +(performance.now() - t0).toFixed(2) }, 'policy change applied');
    for (const fn of this.listeners) {
      try {
        fn(world);
      } catch (err) {
        this.log.error({ err }, 'a policy change listener failed');
      }
    }
    return true;
  }

  private reject(err: unknown, source: string): false {
    const message = errorText(err);
    this.stats.failure++;
    this.stats.lastError = message;
    this.stats.lastErrorAt = new Date().toISOString();
    this.log.error({ source, error: message, revision: this.stats.revision }, 'policy change rejected; the running policy set stays in force');
    return false;
  }
}

export function errorText(err: unknown): string {
  if (err instanceof AggregateInputError) return err.errors.map((e) => e.message).join('; ');
  if (err instanceof Error) return err.message;
  return String(err);
}

interface FileEntry {
  text: string;
  set: PolicySet;
}

/** Reads (and re-reads) the standalone files; unchanged files keep their parsed PolicySet. */
export class StandaloneSource {
  private readonly fileCache = new Map<string, FileEntry>();
  private worldCache: { text: string; world: World } | null = null;
  private lastSets: PolicySet[] = [];
  private lastPolicies: PolicySet | null = null;
  private timer: NodeJS.Timeout | null = null;
  private resync: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly paths: { policies: string[]; world: string },
    private readonly log: Logger,
  ) {}

  /** Files named by watch events since the last reload; `dirtyAll` when an event named no file. */
  private dirty = new Set<string>();
  private dirtyAll = false;

  /**
   * Reads the sources; throws (file, document, field) on invalid input. With `only`, files
   * already parsed and not in it are taken from the cache without reading them (the watch said
   * they did not change); new files are always read.
   */
  read(only: ReadonlySet<string> | null = null): { policies: PolicySet; world: World } {
    const errors: TendrilError[] = [];
    const sets: PolicySet[] = [];
    const seen = new Set<string>();
    for (const file of listYamlFiles(this.paths.policies)) {
      seen.add(file);
      const known = this.fileCache.get(file);
      if (only && known && !only.has(resolve(file))) {
        sets.push(known.set);
        continue;
      }
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        errors.push(new TendrilError('TND_POLICY_YAML', `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file }, { cause: err }));
        continue;
      }
      const cached = this.fileCache.get(file);
      if (cached && cached.text === text) {
        sets.push(cached.set);
        continue;
      }
      try {
        const set = parsePolicyText(text, file);
        this.fileCache.set(file, { text, set });
        sets.push(set);
      } catch (err) {
        if (err instanceof AggregateInputError) errors.push(...err.errors);
        else if (err instanceof TendrilError) errors.push(err);
        else throw err;
      }
    }
    for (const f of [...this.fileCache.keys()]) if (!seen.has(f)) this.fileCache.delete(f);
    let world: World | null = null;
    try {
      world = only && this.worldCache && !only.has(resolve(this.paths.world)) ? this.worldCache.world : this.readWorld();
    } catch (err) {
      if (err instanceof AggregateInputError) errors.push(...err.errors);
      else if (err instanceof TendrilError) errors.push(err);
      else throw err;
    }
    if (errors.length > 0 || !world) throw new AggregateInputError('TND_POLICY_INVALID_SET', errors);
    const same = sets.length === this.lastSets.length && sets.every((s, i) => s === this.lastSets[i]);
    if (!same || !this.lastPolicies) {
      this.lastSets = sets;
      this.lastPolicies = mergePolicySets(sets);
    }
    return { policies: this.lastPolicies, world };
  }

  private readWorld(): World {
    const path = this.paths.world;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new TendrilError('TND_WORLD_INVALID', `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
    }
    if (this.worldCache && this.worldCache.text === text) return this.worldCache.world;
    const world = parseWorld(text, path);
    this.worldCache = { text, world };
    return world;
  }

  /**
   * Watches the directories that hold the sources, each without recursion (inotify on the
   * directory sees a file written, created, removed or renamed over, which is how editors and
   * config-map volumes replace files): every policy directory and its subdirectories, the parent
   * of every policy file and of the world file. A burst of events within `debounceMs` is one
   * change. `resyncMs` re-reads everything periodically in case an event was lost (unchanged
   * files cost a read and a string compare).
   */
  watch(state: PolicyState, opts: { debounceMs?: number; resyncMs?: number } = {}): void {
    this.state = state;
    this.debounceMs = opts.debounceMs ?? 25;
    this.rewatch();
    const resyncMs = opts.resyncMs ?? 30_000;
    if (resyncMs > 0) {
      this.resync = setInterval(() => void this.reload(state, 'resync'), resyncMs);
      this.resync.unref();
    }
  }

  private state: PolicyState | null = null;
  private debounceMs = 25;
  private readonly watched = new Map<string, FSWatcher>();

  /** Directories to watch now, each with a filter on the entry name (null = any entry). */
  private watchTargets(): Map<string, Set<string> | null> {
    const out = new Map<string, Set<string> | null>();
    const addFile = (file: string): void => {
      const dir = dirname(resolve(file));
      const cur = out.get(dir);
      if (cur === null) return;
      out.set(dir, new Set([...(cur ?? []), basename(file)]));
    };
    const walk = (dir: string): void => {
      out.set(dir, null);
      let entries: Dirent[] = [];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) if (!e.name.startsWith('.') && e.isDirectory()) walk(join(dir, e.name));
    };
    for (const p of this.paths.policies) {
      const abs = resolve(p);
      let isDir = false;
      try {
        isDir = statSync(abs).isDirectory();
      } catch {
        // a missing path is reported by read(); watch its parent for its creation
      }
      if (isDir) walk(abs);
      else addFile(abs);
    }
    addFile(this.paths.world);
    return out;
  }

  private rewatch(): void {
    const state = this.state;
    if (!state) return;
    const targets = this.watchTargets();
    for (const [dir, w] of this.watched) {
      if (!targets.has(dir)) {
        w.close();
        this.watched.delete(dir);
      }
    }
    for (const [dir, names] of targets) {
      if (this.watched.has(dir)) {
        this.filters.set(dir, names);
        continue;
      }
      this.filters.set(dir, names);
      try {
        const w = watch(dir, { persistent: false }, (_ev, name) => {
          const f = this.filters.get(dir);
          if (name === null) this.dirtyAll = true;
          else this.dirty.add(join(dir, String(name)));
          if (f === null || f === undefined || name === null || f.has(String(name))) this.kick(state);
        });
        w.on('error', (err) => {
          this.log.warn({ err, dir }, 'directory watch failed; relying on the periodic re-read');
          w.close();
          this.watched.delete(dir);
        });
        this.watched.set(dir, w);
      } catch (err) {
        this.log.warn({ err, dir }, 'cannot watch; relying on the periodic re-read');
      }
    }
  }

  private readonly filters = new Map<string, Set<string> | null>();

  private kick(state: PolicyState): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload(state, 'files');
    }, this.debounceMs);
  }

  /** Re-reads and applies; serialized (a change during a reload triggers one more reload). */
  reload(state: PolicyState, source: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        let next: { policies: PolicySet; world: World } | { error: unknown };
        try {
          const dirty = source === 'files' && !this.dirtyAll ? this.dirty : null;
          this.dirty = new Set();
          this.dirtyAll = false;
          next = this.read(dirty);
        } catch (err) {
          next = { error: err };
        }
        state.apply(next, source);
        if (this.state) this.rewatch();
        await new Promise((r) => setImmediate(r));
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  close(): void {
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
    this.state = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    this.timer = this.resync = null;
  }
}

/** Standalone mode: reads the files once (throws on invalid input: a start failure), then watches them. */
export function startStandalonePolicy(config: Config, log: Logger, opts: { watch?: boolean; debounceMs?: number; resyncMs?: number } = {}): { state: PolicyState; source: StandaloneSource } {
  const t0 = performance.now();
  const source = new StandaloneSource({ policies: [...config.standalone.policies], world: config.standalone.world }, log);
  const { policies, world } = source.read();
  const state = new PolicyState(policies, world, { policyFiles: [...config.standalone.policies], world: config.standalone.world }, log);
  log.info({ ...state.summary, ms: Math.round(performance.now() - t0) }, 'policies and world loaded');
  if (opts.watch !== false) source.watch(state, opts);
  return { state, source };
}
