/**
 * world.yaml (policy-trace contract): namespaces, endpoints, learned FQDNs and entity addresses,
 * turned into endpoints with identity labels (policy-semantics §2.3).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { AggregateInputError, TendrilError } from '../core/index.js';
import { parseCidr, parseIp } from './cidr.js';
import { DocContext } from './doc-context.js';
import { normalizeName } from './fqdn.js';
import { LabelSet, podIdentityLabels } from './labels.js';

export interface Endpoint {
  /** `namespace/name`. */
  id: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ips: string[];
  serviceAccount: string;
  node?: string;
  identity: LabelSet;
}

export type EntityName = 'host' | 'remote-node' | 'kube-apiserver';

export interface World {
  endpoints: Endpoint[];
  byId: Map<string, Endpoint>;
  byIp: Map<string, Endpoint>;
  namespaces: Map<string, Record<string, string>>;
  /** Normalized name (`api.stripe.com.`) -> IPs. */
  fqdns: Map<string, string[]>;
  /** IP -> normalized names mapped to it. */
  namesByIp: Map<string, string[]>;
  entities: Record<EntityName, string[]>;
  /** Unknown fields that were ignored (printed as warnings by the CLI). */
  warnings: string[];
  /** The cluster's nodes (`nodes:`): node IP, labels, tunnel listener, pod CIDRs, annotations. */
  nodes: WorldNode[];
}

/**
 * One node of world.yaml, shaped like a Kubernetes Node: its IP (`address`: fromNodes/toNodes,
 * remote-node, the WireGuard endpoint), labels, where its mTLS tunnel listener is reached, pod
 * CIDRs routed through WireGuard, and annotations (e.g. `network.cilium.io/wg-pub-key`).
 */
export interface WorldNode {
  name: string;
  labels: Record<string, string>;
  address: string;
  /** `host:port` of its tunnel listener (default `<address>:15008`). */
  tunnel: string;
  podCIDRs: string[];
  annotations: Record<string, string>;
}

export interface WorldInput {
  namespaces?: { name: string; labels?: Record<string, string> }[];
  endpoints?: { name: string; namespace?: string; labels?: Record<string, string>; ips?: string[]; serviceAccount?: string; node?: string }[];
  fqdns?: Record<string, string[]>;
  entities?: Partial<Record<EntityName, string[]>>;
  nodes?: { name: string; labels?: Record<string, string>; address: string; tunnel?: string; podCIDRs?: string[]; annotations?: Record<string, string> }[];
}

export function loadWorld(path: string): World {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TendrilError('TND_WORLD_INVALID', `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
  return parseWorld(text, path);
}

export function parseWorld(text: string, file: string): World {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const errors: TendrilError[] = [];
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new TendrilError('TND_WORLD_INVALID', `${file}: invalid YAML: ${e.message.split('\n')[0]}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`, { file, line: pos?.line, column: pos?.col });
  }
  const ctx = new DocContext(file, 1, doc, lines, errors, 'TND_WORLD_INVALID');
  ctx.unknownFieldWarnings = [];
  const world = buildWorld(ctx, doc.toJS({ maxAliasCount: 100 }));
  if (errors.length > 0 || !world) throw new AggregateInputError('TND_WORLD_INVALID', errors);
  world.warnings.push(...ctx.unknownFieldWarnings);
  return world;
}

/** Builds a World from plain data (also used by tests and the agent). */
export function worldFromObject(input: WorldInput, file = '<world>'): World {
  const errors: TendrilError[] = [];
  const world = buildWorld(new DocContext(file, 1, null, null, errors, 'TND_WORLD_INVALID'), input);
  if (errors.length > 0 || !world) throw new AggregateInputError('TND_WORLD_INVALID', errors);
  return world;
}

function ipList(ctx: DocContext, v: unknown, path: (string | number)[]): string[] {
  const out: string[] = [];
  (ctx.list(v, path) ?? []).forEach((ip, i) => {
    const s = ctx.str(ip, [...path, i]);
    if (s === null) return;
    if (!parseIp(s)) ctx.error([...path, i], `invalid IP address ${JSON.stringify(s)}`);
    else out.push(s);
  });
  return out;
}

function buildWorld(ctx: DocContext, raw: unknown): World | null {
  const top = ctx.map(raw ?? {}, [], ['namespaces', 'endpoints', 'fqdns', 'entities', 'cidrs', 'nodes']);
  if (!top) return null;
  const namespaces = new Map<string, Record<string, string>>();
  (ctx.list(top.namespaces, ['namespaces']) ?? []).forEach((n, i) => {
    const m = ctx.map(n, ['namespaces', i], ['name', 'labels']);
    if (!m) return;
    const name = ctx.str(m.name, ['namespaces', i, 'name']);
    const labels = ctx.strMap(m.labels, ['namespaces', i, 'labels'], true);
    if (name === null || labels === null) return;
    if (namespaces.has(name)) ctx.error(['namespaces', i, 'name'], `duplicate namespace ${JSON.stringify(name)}`);
    namespaces.set(name, { ...labels, 'kubernetes.io/metadata.name': name });
  });
  const endpoints: Endpoint[] = [];
  const byId = new Map<string, Endpoint>();
  const byIp = new Map<string, Endpoint>();
  (ctx.list(top.endpoints, ['endpoints']) ?? []).forEach((e, i) => {
    const p = ['endpoints', i];
    const m = ctx.map(e, p, ['name', 'namespace', 'labels', 'ips', 'serviceAccount', 'node']);
    if (!m) return;
    const name = ctx.str(m.name, [...p, 'name']);
    const namespace = m.namespace === undefined ? 'default' : ctx.str(m.namespace, [...p, 'namespace']);
    const labels = ctx.strMap(m.labels, [...p, 'labels'], true);
    const sa = m.serviceAccount === undefined ? 'default' : ctx.str(m.serviceAccount, [...p, 'serviceAccount']);
    const node = m.node === undefined ? undefined : ctx.str(m.node, [...p, 'node']);
    const ips = ipList(ctx, m.ips, [...p, 'ips']);
    if (name === null || namespace === null || labels === null || sa === null || node === null) return;
    if (!namespaces.has(namespace)) namespaces.set(namespace, { 'kubernetes.io/metadata.name': namespace });
    const id = `${namespace}/${name}`;
    if (byId.has(id)) return void ctx.error([...p, 'name'], `duplicate endpoint ${id}`);
    const ep: Endpoint = { id, name, namespace, labels, ips, serviceAccount: sa, node, identity: podIdentityLabels({}, namespace, {}, sa) };
    for (const [j, ip] of ips.entries()) {
      const other = byIp.get(ip);
      if (other) ctx.error([...p, 'ips', j], `IP ${ip} is already used by endpoint ${other.id}`);
      byIp.set(ip, ep);
    }
    byId.set(id, ep);
    endpoints.push(ep);
  });
  for (const ep of endpoints) {
    ep.identity = podIdentityLabels(ep.labels, ep.namespace, namespaces.get(ep.namespace) ?? {}, ep.serviceAccount);
  }
  const fqdns = new Map<string, string[]>();
  const namesByIp = new Map<string, string[]>();
  const fq = ctx.map(top.fqdns, ['fqdns'], Object.keys(ctx.isMap(top.fqdns) ? top.fqdns : {}));
  for (const [name, ipsRaw] of Object.entries(fq ?? {})) {
    const ips = ipList(ctx, ipsRaw, ['fqdns', name]);
    const n = normalizeName(name);
    fqdns.set(n, [...(fqdns.get(n) ?? []), ...ips]);
    for (const ip of ips) namesByIp.set(ip, [...(namesByIp.get(ip) ?? []), n]);
  }
  const ent = ctx.map(top.entities, ['entities'], ['host', 'remote-node', 'kube-apiserver', 'world']) ?? {};
  const entities: Record<EntityName, string[]> = {
    host: ipList(ctx, ent.host, ['entities', 'host']),
    'remote-node': ipList(ctx, ent['remote-node'], ['entities', 'remote-node']),
    'kube-apiserver': ipList(ctx, ent['kube-apiserver'], ['entities', 'kube-apiserver']),
  };
  for (const kind of ['host', 'remote-node'] as const) {
    entities[kind].forEach((ip, j) => {
      if (byIp.has(ip)) ctx.error(['entities', kind, j], `IP ${ip} is both a ${kind} and endpoint ${byIp.get(ip)?.id}`);
    });
  }
  return { endpoints, byId, byIp, namespaces, fqdns, namesByIp, entities, warnings: [], nodes: worldNodes(ctx, top.nodes) };
}

function worldNodes(ctx: DocContext, raw: unknown): WorldNode[] {
  const out: WorldNode[] = [];
  (ctx.list(raw, ['nodes']) ?? []).forEach((n, i) => {
    const p = ['nodes', i];
    const m = ctx.map(n, p, ['name', 'labels', 'address', 'tunnel', 'podCIDRs', 'annotations']);
    if (!m) return;
    const name = ctx.str(m.name, [...p, 'name']);
    const labels = ctx.strMap(m.labels, [...p, 'labels'], true);
    const address = ctx.str(m.address, [...p, 'address']);
    const tunnel = m.tunnel === undefined ? undefined : ctx.str(m.tunnel, [...p, 'tunnel']);
    const annotations = m.annotations === undefined ? {} : ctx.strMap(m.annotations, [...p, 'annotations'], true);
    const podCIDRs: string[] = [];
    (ctx.list(m.podCIDRs ?? [], [...p, 'podCIDRs']) ?? []).forEach((c, j) => {
      const s = ctx.str(c, [...p, 'podCIDRs', j]);
      if (s === null) return;
      if (!parseCidr(s)) ctx.error([...p, 'podCIDRs', j], `invalid CIDR ${JSON.stringify(s)}`);
      else podCIDRs.push(s);
    });
    if (name === null || labels === null || address === null || tunnel === null || annotations === null) return;
    if (!parseIp(address)) return ctx.error([...p, 'address'], `invalid IP address ${JSON.stringify(address)}`);
    if (tunnel !== undefined && !/^[^\s:]+:[0-9]{1,5}$/.test(tunnel)) return ctx.error([...p, 'tunnel'], `expected host:port, got ${JSON.stringify(tunnel)}`);
    if (out.some((o) => o.name === name)) return ctx.error([...p, 'name'], `duplicate node ${JSON.stringify(name)}`);
    out.push({ name, labels, address, tunnel: tunnel ?? `${address}:15008`, podCIDRs, annotations });
  });
  return out;
}

/** `world` with `learned` names (normalized name -> IPs) added to its fqdns (a new object; `world` is untouched). */
export function worldWithFqdns(world: World, learned: ReadonlyMap<string, readonly string[]>): World {
  const fqdns = new Map<string, string[]>();
  for (const [n, ips] of world.fqdns) fqdns.set(n, [...ips]);
  for (const [n, ips] of learned) {
    const name = normalizeName(n);
    const have = fqdns.get(name) ?? [];
    fqdns.set(name, [...have, ...ips.filter((ip) => !have.includes(ip))]);
  }
  const namesByIp = new Map<string, string[]>();
  for (const [n, ips] of fqdns) for (const ip of ips) namesByIp.set(ip, [...(namesByIp.get(ip) ?? []), n]);
  return { ...world, fqdns, namesByIp };
}
