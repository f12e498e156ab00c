/**
 * `hubble observe` flags -> FlowFilters, as the hubble v0.12 CLI builds them
 * (hubble-compat §2.3, verified with --print-raw-filters):
 * - undirected flags (--namespace, --pod, --label, --ip, --fqdn, --port, --identity, --service)
 *   create TWO whitelist filters, one with the `source_*` field and one with `destination_*`;
 * - every other flag is copied into both (or into the single filter when no undirected flag is set);
 * - a repeated flag adds values to the same list (OR within the field).
 */
import { TendrilError } from '../core/index.js';
import { EVENT_TYPES, TRACE_SUB_TYPES, VERDICTS } from './enums.js';
import type { EventTypeFilter, FlowFilter } from './filter.js';

/** Flag values as parsed by the CLI (all lists; absent = not given). */
export interface ObserveFlags {
  namespace?: string[];
  fromNamespace?: string[];
  toNamespace?: string[];
  pod?: string[];
  fromPod?: string[];
  toPod?: string[];
  label?: string[];
  fromLabel?: string[];
  toLabel?: string[];
  ip?: string[];
  fromIp?: string[];
  toIp?: string[];
  fqdn?: string[];
  fromFqdn?: string[];
  toFqdn?: string[];
  port?: string[];
  fromPort?: string[];
  toPort?: string[];
  identity?: string[];
  fromIdentity?: string[];
  toIdentity?: string[];
  service?: string[];
  fromService?: string[];
  toService?: string[];
  verdict?: string[];
  protocol?: string[];
  httpMethod?: string[];
  httpPath?: string[];
  httpStatus?: string[];
  type?: string[];
  nodeName?: string[];
  trafficDirection?: string[];
  uuid?: string[];
  dnsQuery?: string[];
}

const bad = (flag: string, msg: string): TendrilError => new TendrilError('TND_CLI_USAGE', `${flag}: ${msg}`, { field: flag });

/** `--type` value -> EventTypeFilter (`l7`, `drop`, `trace`, `trace:to-endpoint`, ...). */
export function parseTypeFlag(value: string): EventTypeFilter {
  const [name, sub] = value.split(':', 2) as [string, string | undefined];
  const type = (EVENT_TYPES as Record<string, number>)[name];
  if (type === undefined) throw bad('--type', `unknown event type ${JSON.stringify(value)} (want one of ${Object.keys(EVENT_TYPES).join(', ')}, or trace:<point>)`);
  if (sub === undefined) return { type };
  if (name !== 'trace') throw bad('--type', `only trace takes a sub-type, got ${JSON.stringify(value)}`);
  const subType = TRACE_SUB_TYPES.indexOf(sub);
  if (subType < 0) throw bad('--type', `unknown trace point ${JSON.stringify(sub)} (want one of ${TRACE_SUB_TYPES.join(', ')})`);
  return subType === 0 ? { type, match_sub_type: true } : { type, match_sub_type: true, sub_type: subType };
}

function splitList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function identities(flag: string, values: string[]): number[] {
  return values.map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > 0xffffffff) throw bad(flag, `want a numeric identity, got ${JSON.stringify(v)}`);
    return n;
  });
}

/** Namespaces as pod filters (`ns/`), or pods prefixed with the given namespaces. */
function podValues(namespaces: string[], pods: string[]): string[] {
  if (pods.length === 0) return namespaces.map((n) => `${n}/`);
  if (namespaces.length === 0) return pods;
  return pods.flatMap((p) => (p.includes('/') ? [p] : namespaces.map((n) => `${n}/${p}`)));
}

/** Builds the whitelist from the flags. Throws TND_CLI_USAGE naming the flag. */
export function buildWhitelist(f: ObserveFlags): FlowFilter[] {
  const common: FlowFilter = {};
  const verdicts = splitList(f.verdict).map((v) => v.toUpperCase());
  for (const v of verdicts) if (!(v in VERDICTS)) throw bad('--verdict', `unknown verdict ${JSON.stringify(v)} (want ${Object.keys(VERDICTS).join(', ')})`);
  if (verdicts.length) common.verdict = verdicts;
  if (f.protocol?.length) common.protocol = splitList(f.protocol);
  if (f.httpMethod?.length) common.http_method = f.httpMethod;
  if (f.httpPath?.length) common.http_path = f.httpPath;
  if (f.httpStatus?.length) {
    for (const s of f.httpStatus) if (!/^\d{1,3}\+?$/.test(s)) throw bad('--http-status', `want a code like 404 or a prefix like 5+, got ${JSON.stringify(s)}`);
    common.http_status_code = f.httpStatus;
  }
  if (f.type?.length) common.event_type = splitList(f.type).map(parseTypeFlag);
  if (f.nodeName?.length) common.node_name = f.nodeName;
  if (f.trafficDirection?.length) {
    common.traffic_direction = f.trafficDirection.map((d) => {
      const u = d.toUpperCase();
      if (u !== 'INGRESS' && u !== 'EGRESS') throw bad('--traffic-direction', `want ingress or egress, got ${JSON.stringify(d)}`);
      return u;
    });
  }
  if (f.uuid?.length) common.uuid = f.uuid;
  if (f.dnsQuery?.length) common.dns_query = f.dnsQuery;
  for (const p of [...(f.port ?? []), ...(f.fromPort ?? []), ...(f.toPort ?? [])]) {
    if (!/^\d+$/.test(p) || Number(p) > 65535) throw bad('--port', `want a port 0-65535, got ${JSON.stringify(p)}`);
  }
  // Directed flags: source_* / destination_* in every filter.
  const fromPods = podValues([...(f.fromNamespace ?? [])], [...(f.fromPod ?? [])]);
  const toPods = podValues([...(f.toNamespace ?? [])], [...(f.toPod ?? [])]);
  if (fromPods.length) common.source_pod = fromPods;
  if (toPods.length) common.destination_pod = toPods;
  if (f.fromLabel?.length) common.source_label = f.fromLabel;
  if (f.toLabel?.length) common.destination_label = f.toLabel;
  if (f.fromIp?.length) common.source_ip = f.fromIp;
  if (f.toIp?.length) common.destination_ip = f.toIp;
  if (f.fromFqdn?.length) common.source_fqdn = f.fromFqdn;
  if (f.toFqdn?.length) common.destination_fqdn = f.toFqdn;
  if (f.fromPort?.length) common.source_port = f.fromPort;
  if (f.toPort?.length) common.destination_port = f.toPort;
  if (f.fromIdentity?.length) common.source_identity = identities('--from-identity', f.fromIdentity);
  if (f.toIdentity?.length) common.destination_identity = identities('--to-identity', f.toIdentity);
  if (f.fromService?.length) common.source_service = f.fromService;
  if (f.toService?.length) common.destination_service = f.toService;

  // Undirected flags: one filter per side.
  const pods = podValues(f.namespace ?? [], f.pod ?? []);
  const left: FlowFilter = {};
  const right: FlowFilter = {};
  let undirected = false;
  const both = <K extends keyof FlowFilter>(srcKey: K, dstKey: K, values: FlowFilter[K] | undefined): void => {
    if (!values || (values as unknown[]).length === 0) return;
    undirected = true;
    left[srcKey] = [...((common[srcKey] as unknown[]) ?? []), ...(values as unknown[])] as FlowFilter[K];
    right[dstKey] = [...((common[dstKey] as unknown[]) ?? []), ...(values as unknown[])] as FlowFilter[K];
  };
  both('source_pod', 'destination_pod', pods);
  both('source_label', 'destination_label', f.label);
  both('source_ip', 'destination_ip', f.ip);
  both('source_fqdn', 'destination_fqdn', f.fqdn);
  both('source_port', 'destination_port', f.port);
  both('source_identity', 'destination_identity', f.identity ? identities('--identity', f.identity) : undefined);
  both('source_service', 'destination_service', f.service);
  if (!undirected) return Object.keys(common).length > 0 ? [common] : [];
  return [{ ...common, ...left }, { ...common, ...right }];
}
