/**
 * Loads the one Config: defaults, then a YAML file, then the environment, then flags, merged in
 * that order, validated against the schema, paths made absolute, the result deep-frozen.
 * Errors name the source (file with line:column, environment variable, or flag) and the field.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, parse as parseYamlValue, isMap, isSeq, type Node } from 'yaml';
import { TendrilError, parseDurationMs } from '../core/index.js';
import { configSchema, duration, type Config } from './schema.js';

/** Where each layer comes from. All optional; missing layers are skipped. */
export interface ConfigSources {
  /** Path of a YAML config file. Relative paths inside it resolve against its folder. */
  file?: string;
  /** Environment: `TENDRIL__<KEY>__<SUBKEY>=value` sets `key.subKey` (segments case-insensitive). */
  env?: Record<string, string | undefined>;
  /** Flags: `key.path=value` (like `helm --set`); values are parsed as YAML scalars/lists. */
  sets?: string[];
  /** Base for relative paths from env and flags (default: process cwd). */
  cwd?: string;
}

/** The config file shipped with Tendril: standalone mode on the corrected examples. */
const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CONFIG_FILE = resolve(here.endsWith('/dist/config') ? resolve(here, '..', '..', 'config') : here, 'default.yaml');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Layer = { source: string; value: Record<string, Json>; locate?: (path: string[], atKey?: boolean) => string };

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
const validate = ajv.compile(configSchema);

export function loadConfig(sources: ConfigSources = {}): Config {
  const cwd = sources.cwd ?? process.cwd();
  const layers: Layer[] = [];
  if (sources.file) layers.push(readFileLayer(sources.file));
  const envLayer = sources.env ? readEnvLayer(sources.env) : null;
  if (envLayer) layers.push(envLayer);
  if (sources.sets?.length) layers.push(readSetLayer(sources.sets));

  // Each layer is validated on its own first, so an error names the layer that caused it.
  const errors: string[] = [];
  for (const layer of layers) {
    const copy = structuredClone(layer.value);
    if (!validate(copy)) errors.push(...formatErrors(validate.errors ?? [], layer));
  }
  if (errors.length) throw new TendrilError('TND_CONFIG_INVALID', `invalid configuration:\n  ${errors.join('\n  ')}`, { count: errors.length });

  const merged: Record<string, Json> = {};
  for (const layer of layers) deepMerge(merged, resolvePaths(layer, sources.file, cwd));
  if (!validate(merged)) {
    throw new TendrilError('TND_CONFIG_INVALID', `invalid configuration:\n  ${formatErrors(validate.errors ?? [], { source: 'merged configuration', value: merged }).join('\n  ')}`);
  }
  parseDurations(merged, configSchema as unknown as SchemaNode, []);
  const config = merged as unknown as Config;
  // Defaults for paths are relative to the shipped config folder.
  const shippedDir = dirname(DEFAULT_CONFIG_FILE);
  config.standalone.policies = config.standalone.policies.map((p) => (isAbsolute(p) ? p : resolve(shippedDir, p)));
  if (!isAbsolute(config.standalone.world)) config.standalone.world = resolve(shippedDir, config.standalone.world);
  if (!isAbsolute(config.hubble.store.path)) config.hubble.store.path = resolve(cwd, config.hubble.store.path);
  if (!isAbsolute(config.encryption.wireguard.stateDir)) config.encryption.wireguard.stateDir = resolve(cwd, config.encryption.wireguard.stateDir);
  return deepFreeze(config);
}

function readFileLayer(file: string): Layer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TendrilError('TND_CONFIG_READ', `${file}: cannot read config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file }, { cause: err });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new TendrilError('TND_CONFIG_READ', `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`, { file, line: pos?.line, column: pos?.col });
  }
  const value = (doc.toJS() ?? {}) as Json;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TendrilError('TND_CONFIG_INVALID', `${file}: the config file must be a YAML mapping of keys`, { file });
  }
  const locate = (path: string[], atKey = false): string => {
    let node: unknown = doc.contents;
    let found: Node | null = null;
    for (const [i, seg] of path.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === seg);
        if (!pair) break;
        found = (pair.key as Node) ?? found;
        node = pair.value;
        if (atKey && i === path.length - 1) break;
        if (node && (node as Node).range) found = node as Node;
      } else if (isSeq(node)) {
        node = node.items[Number(seg)];
        if (node && (node as Node).range) found = node as Node;
      } else break;
    }
    const offset = found?.range?.[0];
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  return { source: file, value, locate };
}

const ENV_PREFIX = 'TENDRIL__';

function readEnvLayer(env: Record<string, string | undefined>): Layer | null {
  const value: Record<string, Json> = {};
  let any = false;
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const segs = name.slice(ENV_PREFIX.length).split('__').filter(Boolean);
    const path = canonicalPath(segs);
    if (!path) {
      throw new TendrilError('TND_CONFIG_INVALID', `environment variable ${name}: no config key ${segs.join('.').toLowerCase()}`, { field: segs.join('.') });
    }
    setPath(value, path, parseYamlValue(raw) as Json);
    any = true;
  }
  return any ? { source: 'environment (TENDRIL__*)', value } : null;
}

function readSetLayer(sets: string[]): Layer {
  const value: Record<string, Json> = {};
  for (const item of sets) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new TendrilError('TND_CONFIG_INVALID', `--set ${item}: expected key.path=value`, { field: item });
    const segs = item.slice(0, eq).split('.');
    const path = canonicalPath(segs);
    if (!path) throw new TendrilError('TND_CONFIG_INVALID', `--set ${item}: no config key ${segs.join('.')}`, { field: segs.join('.') });
    const raw = item.slice(eq + 1);
    // Helm style lists: {a,b,c}
    const parsed = /^\{.*\}$/.test(raw) ? raw.slice(1, -1).split(',').filter(Boolean) : parseYamlValue(raw);
    setPath(value, path, parsed as Json);
  }
  return { source: 'flags (--set)', value };
}

/** Maps case-insensitive segments to the schema's property names; null when a key is unknown. */
function canonicalPath(segs: string[]): string[] | null {
  let schema: { properties?: Record<string, unknown> } = configSchema as never;
  const out: string[] = [];
  for (const seg of segs) {
    const props = schema.properties;
    if (!props) return null;
    const key = Object.keys(props).find((k) => k.toLowerCase() === seg.toLowerCase().replace(/_/g, ''));
    if (!key) return null;
    out.push(key);
    schema = props[key] as typeof schema;
  }
  return out;
}

function setPath(target: Record<string, Json>, path: string[], value: Json): void {
  let cur = target;
  for (const seg of path.slice(0, -1)) {
    if (typeof cur[seg] !== 'object' || cur[seg] === null || Array.isArray(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Record<string, Json>;
  }
  cur[path[path.length - 1]!] = value;
}

function deepMerge(target: Record<string, Json>, src: Record<string, Json>): void {
  for (const [k, v] of Object.entries(src)) {
    const t = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t)) deepMerge(t, v);
    else target[k] = structuredClone(v);
  }
}

/** Relative paths in a file resolve against the file's folder; from env/flags against cwd. */
function resolvePaths(layer: Layer, file: string | undefined, cwd: string): Record<string, Json> {
  const base = layer.locate && file ? dirname(resolve(file)) : cwd;
  const v = structuredClone(layer.value);
  const sa = v.standalone as Record<string, Json> | undefined;
  if (sa) {
    if (Array.isArray(sa.policies)) sa.policies = sa.policies.map((p) => (typeof p === 'string' ? resolve(base, p) : p));
    if (typeof sa.world === 'string') sa.world = resolve(base, sa.world);
  }
  const store = ((v.hubble as Record<string, Json> | undefined)?.store ?? undefined) as Record<string, Json> | undefined;
  if (store && typeof store.path === 'string') store.path = resolve(base, store.path);
  const wg = ((v.encryption as Record<string, Json> | undefined)?.wireguard ?? undefined) as Record<string, Json> | undefined;
  if (wg && typeof wg.stateDir === 'string') wg.stateDir = resolve(base, wg.stateDir);
  const tls = ((v.hubble as Record<string, Json> | undefined)?.tls ?? undefined) as Record<string, Record<string, Json>> | undefined;
  for (const [part, key] of [['server', 'cert'], ['server', 'key'], ['ca', 'cert']] as const) {
    const o = tls?.[part];
    if (o && typeof o[key] === 'string' && o[key] !== '') o[key] = resolve(base, o[key]);
  }
  return v;
}

function formatErrors(errors: ErrorObject[], layer: Layer): string[] {
  return errors.map((e) => {
    const path = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let field = path.join('.');
    let detail = e.message ?? 'is invalid';
    let atKey = false;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      field = [...path, extra].join('.');
      detail = 'unknown field';
      path.push(extra);
      atKey = true;
    } else if (e.keyword === 'enum') {
      detail = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((x) => JSON.stringify(x)).join(', ')}`;
    }
    const where = layer.locate ? layer.locate(path, atKey) : layer.source;
    return `${where}: ${field || '(root)'}: ${detail}`;
  });
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}

interface SchemaNode {
  pattern?: string;
  properties?: Record<string, SchemaNode>;
}

/** Replaces every duration string (a property whose schema is `duration`) by its milliseconds. */
function parseDurations(value: Record<string, Json>, schema: SchemaNode, path: string[]): void {
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    const v = value[key];
    if (sub.pattern === duration.pattern && typeof v === 'string') value[key] = parseDurationMs(v, [...path, key].join('.'));
    else if (sub.properties && v && typeof v === 'object' && !Array.isArray(v)) parseDurations(v as Record<string, Json>, sub, [...path, key]);
  }
}
