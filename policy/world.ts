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
  /** Named container ports (cluster-state-selectors N2): name -> number and protocol. */
  ports?: Map<string, { port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }>;
}

/** A Kubernetes Service (cluster-state-selectors §2; world.yaml `services[]`). */
export interface Service {
  /** `namespace/name`. */
  id: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** The pod selector; null for a selector-less service (backends in `endpoints`). */
  selector: Record<string, string> | null;
  /** Backend addresses of a selector-less service (its EndpointSlices). */
  endpoints: string[];
  clusterIP: string | null;
  ports: { name: string; port: number; targetPort: number | string; protocol: 'TCP' | 'UDP' | 'SCTP' }[];
  /** Service labels as an identity-style set (source k8s), for k8sServiceSelector. */
  labelSet: LabelSet;
}

/** A Kubernetes Node (world.yaml `nodes[]`). */
export interface Node {
  name: string;
  labels: Record<string, string>;
  /** The node's IP (fromNodes/toNodes, remote-node, the WireGuard endpoint); null when unknown. */
  address: string | null;
  /** Where its mTLS tunnel listener is reached (host:port); absent: `<address>:15008`. */
  tunnel?: string;
  /** Pod CIDRs, routed through WireGuard when encryption is on. */
  podCIDRs: string[];
  /** Annotations, e.g. `network.cilium.io/wg-pub-key` (the WireGuard public key). */
  annotations: Record<string, string>;
}

/** A node of world.yaml (or of the Kubernetes Node watch). */
export type WorldNode = Node;

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
  /** Kubernetes Services by `namespace/name`. */
  services: Map<string, Service>;
  nodes: Node[];
  /** Node address -> node. */
  nodeByIp: Map<string, Node>;
  /** Named ports over every endpoint (N4): name -> protocol -> the distinct numbers. */
  clusterNamedPorts: Map<string, Map<string, Set<number>>>;
}

export interface WorldInput {
  namespaces?: { name: string; labels?: Record<string, string> }[];
  endpoints?: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    ips?: string[];
    serviceAccount?: string;
    node?: string;
    ports?: { name?: string; containerPort: number; protocol?: string }[];
  }[];
  fqdns?: Record<string, string[]>;
  entities?: Partial<Record<EntityName, string[]>>;
  services?: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    selector?: Record<string, string>;
    endpoints?: string[];
    clusterIP?: string;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  }[];
  nodes?: { name: string; labels?: Record<string, string>; address?: string; tunnel?: string; podCIDRs?: string[]; annotations?: Record<string, string> }[];
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
  const top = ctx.map(raw ?? {}, [], ['namespaces', 'endpoints', 'fqdns', 'entities', 'cidrs', 'services', 'nodes']);
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
    const m = ctx.map(e, p, ['name', 'namespace', 'labels', 'ips', 'serviceAccount', 'node', 'ports']);
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
    const ports = containerPorts(ctx, m.ports, [...p, 'ports']);
    if (ports) ep.ports = ports;
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
  const clusterNamedPorts = new Map<string, Map<string, Set<number>>>();
  for (const ep of endpoints) {
    for (const [name, cp] of ep.ports ?? []) {
      let byProto = clusterNamedPorts.get(name);
      if (!byProto) clusterNamedPorts.set(name, (byProto = new Map()));
      let nums = byProto.get(cp.protocol);
      if (!nums) byProto.set(cp.protocol, (nums = new Set()));
      nums.add(cp.port);
    }
  }
  const { nodes, nodeByIp } = parseNodes(ctx, top.nodes, byIp);
  const services = parseServices(ctx, top.services, namespaces);
  return { endpoints, byId, byIp, namespaces, fqdns, namesByIp, entities, warnings: [], services, nodes, nodeByIp, clusterNamedPorts };
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const PORT_NAME = /^(?=.{1,15}$)([a-z0-9]-?)*[a-z](-?[a-z0-9])*$/;

function protocolOf(ctx: DocContext, v: unknown, path: (string | number)[]): 'TCP' | 'UDP' | 'SCTP' | null {
  if (v === undefined) return 'TCP';
  const s = ctx.str(v, path);
  if (s === null) return null;
  const up = s.toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(up)) {
    ctx.error(path, `must be TCP, UDP or SCTP, got ${JSON.stringify(s)}`);
    return null;
  }
  return up as 'TCP' | 'UDP' | 'SCTP';
}

function portNumber(ctx: DocContext, v: unknown, path: (string | number)[]): number | null {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    ctx.error(path, `must be a port number 1-65535, got ${JSON.stringify(v)}`);
    return null;
  }
  return v;
}

/** `endpoints[].ports`: named container ports; a name used twice in one pod is invalid (N2). */
function containerPorts(ctx: DocContext, v: unknown, path: (string | number)[]): Endpoint['ports'] | null {
  if (v === undefined) return null;
  const out = new Map<string, { port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }>();
  (ctx.list(v, path) ?? []).forEach((cp, i) => {
    const m = ctx.map(cp, [...path, i], ['name', 'containerPort', 'protocol']);
    if (!m) return;
    const port = portNumber(ctx, m.containerPort, [...path, i, 'containerPort']);
    const protocol = protocolOf(ctx, m.protocol, [...path, i, 'protocol']);
    if (m.name === undefined || port === null || protocol === null) return;
    const name = ctx.str(m.name, [...path, i, 'name']);
    if (name === null) return;
    if (!PORT_NAME.test(name)) return void ctx.error([...path, i, 'name'], `must be an IANA service name (lower case, 1-15 characters), got ${JSON.stringify(name)}`);
    if (out.has(name)) return void ctx.error([...path, i, 'name'], `duplicate port name ${JSON.stringify(name)} in one pod`);
    out.set(name, { port, protocol });
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

function parseNodes(ctx: DocContext, v: unknown, byIp: Map<string, Endpoint>): { nodes: Node[]; nodeByIp: Map<string, Node> } {
  const nodes: Node[] = [];
  const nodeByIp = new Map<string, Node>();
  const names = new Set<string>();
  (ctx.list(v, ['nodes']) ?? []).forEach((n, i) => {
    const p = ['nodes', i];
    const m = ctx.map(n, p, ['name', 'labels', 'address', 'tunnel', 'podCIDRs', 'annotations']);
    if (!m) return;
    const name = ctx.str(m.name, [...p, 'name']);
    const labels = ctx.strMap(m.labels, [...p, 'labels'], true);
    const address = m.address === undefined ? null : ctx.str(m.address, [...p, 'address']);
    const tunnel = m.tunnel === undefined ? undefined : ctx.str(m.tunnel, [...p, 'tunnel']);
    const annotations = m.annotations === undefined ? {} : ctx.strMap(m.annotations, [...p, 'annotations'], true);
    const podCIDRs: string[] = [];
    (ctx.list(m.podCIDRs ?? [], [...p, 'podCIDRs']) ?? []).forEach((c, j) => {
      const s = ctx.str(c, [...p, 'podCIDRs', j]);
      if (s === null) return;
      if (!parseCidr(s)) ctx.error([...p, 'podCIDRs', j], `invalid CIDR ${JSON.stringify(s)}`);
      else podCIDRs.push(s);
    });
    if (name === null || labels === null || tunnel === null || annotations === null) return;
    if (tunnel !== undefined && !/^[^\s:]+:[0-9]{1,5}$/.test(tunnel)) return void ctx.error([...p, 'tunnel'], `expected host:port, got ${JSON.stringify(tunnel)}`);
    if (names.has(name)) return void ctx.error([...p, 'name'], `duplicate node ${JSON.stringify(name)}`);
    names.add(name);
    if (address !== null) {
      if (!parseIp(address)) return void ctx.error([...p, 'address'], `invalid IP address ${JSON.stringify(address)}`);
      if (byIp.has(address)) return void ctx.error([...p, 'address'], `IP ${address} is both node ${name} and endpoint ${byIp.get(address)?.id}`);
      if (nodeByIp.has(address)) return void ctx.error([...p, 'address'], `IP ${address} is already node ${nodeByIp.get(address)?.name}`);
    }
    const node: Node = { name, labels, address, ...(tunnel !== undefined ? { tunnel } : {}), podCIDRs, annotations };
    if (address !== null) nodeByIp.set(address, node);
    nodes.push(node);
  });
  return { nodes, nodeByIp };
}

function parseServices(ctx: DocContext, v: unknown, namespaces: Map<string, Record<string, string>>): Map<string, Service> {
  const out = new Map<string, Service>();
  (ctx.list(v, ['services']) ?? []).forEach((sv, i) => {
    const p = ['services', i];
    const m = ctx.map(sv, p, ['name', 'namespace', 'labels', 'selector', 'endpoints', 'clusterIP', 'ports']);
    if (!m) return;
    const name = ctx.str(m.name, [...p, 'name']);
    const namespace = m.namespace === undefined ? 'default' : ctx.str(m.namespace, [...p, 'namespace']);
    const labels = ctx.strMap(m.labels, [...p, 'labels'], true);
    const selector = m.selector === undefined || m.selector === null ? null : ctx.strMap(m.selector, [...p, 'selector'], true);
    if (m.selector !== undefined && m.selector !== null && m.endpoints !== undefined) {
      ctx.error([...p, 'endpoints'], 'a service has either a selector or endpoints (selector-less), not both');
    }
    const endpoints = ipList(ctx, m.endpoints, [...p, 'endpoints']);
    let clusterIP: string | null = null;
    if (m.clusterIP !== undefined) {
      const ip = ctx.str(m.clusterIP, [...p, 'clusterIP']);
      if (ip !== null && !parseIp(ip)) ctx.error([...p, 'clusterIP'], `invalid IP address ${JSON.stringify(ip)}`);
      else clusterIP = ip;
    }
    const ports: Service['ports'] = [];
    (ctx.list(m.ports, [...p, 'ports']) ?? []).forEach((sp, j) => {
      const pp = [...p, 'ports', j];
      const pm = ctx.map(sp, pp, ['name', 'port', 'targetPort', 'protocol']);
      if (!pm) return;
      const port = portNumber(ctx, pm.port, [...pp, 'port']);
      const protocol = protocolOf(ctx, pm.protocol, [...pp, 'protocol']);
      const pname = pm.name === undefined ? '' : ctx.str(pm.name, [...pp, 'name']);
      let targetPort: number | string | null = port;
      if (typeof pm.targetPort === 'string') targetPort = /^[0-9]+$/.test(pm.targetPort) ? Number(pm.targetPort) : pm.targetPort.toLowerCase();
      else if (pm.targetPort !== undefined) targetPort = portNumber(ctx, pm.targetPort, [...pp, 'targetPort']);
      if (port === null || protocol === null || pname === null || targetPort === null) return;
      ports.push({ name: pname, port, targetPort, protocol });
    });
    if (name === null || namespace === null || labels === null || (m.selector !== undefined && m.selector !== null && selector === null)) return;
    const id = `${namespace}/${name}`;
    if (out.has(id)) return void ctx.error([...p, 'name'], `duplicate service ${id}`);
    if (!namespaces.has(namespace)) namespaces.set(namespace, { 'kubernetes.io/metadata.name': namespace });
    const labelSet = new LabelSet(Object.entries(labels).map(([key, value]) => ({ source: 'k8s', key, value })));
    out.set(id, { id, name, namespace, labels, selector, endpoints, clusterIP, ports, labelSet });
  });
  return out;
}
