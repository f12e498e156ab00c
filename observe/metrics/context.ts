/**
 * Context labels shared by every Hubble metric (hubble-compat §4.1): `source`/`destination` from
 * sourceContext/destinationContext (first non-empty identifier wins, with the *Egress/*Ingress
 * variants overriding by traffic direction), and the fixed labelsContext labels.
 */
import type { Endpoint, Flow } from '../flow.js';
import { LABELS_CONTEXT } from './options.js';

type Side = 'source' | 'destination';
const EMPTY: string[] = [];

function endpoint(flow: Flow, side: Side): Endpoint | undefined {
  return side === 'source' ? flow.source : flow.destination;
}

function appLabel(ep: Endpoint | undefined): string {
  const labels = ep?.labels ?? [];
  for (const key of ['k8s:app.kubernetes.io/name=', 'k8s:k8s-app=', 'k8s:app=']) {
    const l = labels.find((x) => x.startsWith(key));
    if (l) return l.slice(key.length);
  }
  return '';
}

function contextValue(flow: Flow, side: Side, id: string): string {
  const ep = endpoint(flow, side);
  switch (id) {
    case 'identity':
      return (ep?.labels ?? []).join(',');
    case 'namespace':
      return ep?.namespace ?? '';
    case 'pod':
      return ep?.pod_name ? `${ep.namespace ?? ''}/${ep.pod_name}` : '';
    case 'pod-short': {
      const p = ep?.pod_name ?? '';
      if (p === '') return '';
      const parts = p.split('-');
      const short = parts.length > 2 ? parts.slice(0, -2).join('-') : parts.length > 1 ? parts.slice(0, -1).join('-') : p;
      return `${ep?.namespace ?? ''}/${short}`;
    }
    case 'pod-name':
      return ep?.pod_name ?? '';
    case 'dns':
      return ((side === 'source' ? flow.source_names : flow.destination_names) ?? []).join(',');
    case 'ip':
      return (side === 'source' ? flow.IP?.source : flow.IP?.destination) ?? '';
    case 'reserved-identity': {
      const labels = ep?.labels ?? [];
      if (labels.includes('reserved:kube-apiserver')) return 'reserved:kube-apiserver';
      return labels.find((l) => l.startsWith('reserved:')) ?? '';
    }
    case 'workload-name':
      return ep?.workloads?.[0]?.name ?? '';
    case 'app':
      return appLabel(ep);
    default:
      return '';
  }
}

/** Computes the context labels configured by a metric's options. */
export class ContextLabels {
  /** Label names this context adds (labelsContext in fixed order, then source, destination). */
  readonly names: string[];
  private readonly labelsContext: string[];
  private readonly src?: string[];
  private readonly dst?: string[];
  private readonly srcByDir: Record<string, string[] | undefined>;
  private readonly dstByDir: Record<string, string[] | undefined>;

  constructor(options: Record<string, string>) {
    const list = (k: string): string[] | undefined => (options[k] !== undefined && options[k] !== '' ? options[k]!.split('|') : undefined);
    const lc = options.labelsContext ? options.labelsContext.split(',') : [];
    this.labelsContext = LABELS_CONTEXT.filter((l) => lc.includes(l));
    this.src = list('sourceContext');
    this.dst = list('destinationContext');
    this.srcByDir = { EGRESS: list('sourceEgressContext'), INGRESS: list('sourceIngressContext') };
    this.dstByDir = { EGRESS: list('destinationEgressContext'), INGRESS: list('destinationIngressContext') };
    this.names = [...this.labelsContext, ...(this.src ? ['source'] : []), ...(this.dst ? ['destination'] : [])];
  }

  /** Label values for one flow in `names` order (a shared empty array when none configured). */
  list(flow: Flow): string[] {
    if (this.names.length === 0) return EMPTY;
    const v = this.values(flow);
    return this.names.map((n) => v[n] ?? '');
  }

  /** Label values for one flow, keyed by label name. */
  values(flow: Flow): Record<string, string> {
    const out: Record<string, string> = {};
    for (const l of this.labelsContext) out[l] = labelsContextValue(flow, l);
    const pick = (ids: string[], side: Side): string => {
      for (const id of ids) {
        const v = contextValue(flow, side, id);
        if (v !== '') return v;
      }
      return '';
    };
    if (this.src) out.source = pick(this.srcByDir[flow.traffic_direction] ?? this.src, 'source');
    if (this.dst) out.destination = pick(this.dstByDir[flow.traffic_direction] ?? this.dst, 'destination');
    return out;
  }
}

function labelsContextValue(flow: Flow, label: string): string {
  if (label === 'traffic_direction') {
    return flow.traffic_direction === 'INGRESS' ? 'ingress' : flow.traffic_direction === 'EGRESS' ? 'egress' : 'unknown';
  }
  const side: Side = label.startsWith('source_') ? 'source' : 'destination';
  const what = label.slice(side.length + 1);
  const ep = endpoint(flow, side);
  switch (what) {
    case 'ip':
      return (side === 'source' ? flow.IP?.source : flow.IP?.destination) ?? '';
    case 'pod':
      return ep?.pod_name ?? '';
    case 'namespace':
      return ep?.namespace ?? '';
    case 'workload':
      return ep?.workloads?.[0]?.name ?? '';
    case 'app':
      return appLabel(ep);
    default:
      return '';
  }
}

/** Returns a copy of the flow with source and destination swapped (httpV2 counts responses). */
export function swapSides(flow: Flow): Flow {
  return {
    ...flow,
    source: flow.destination,
    destination: flow.source,
    source_names: flow.destination_names,
    destination_names: flow.source_names,
    source_service: flow.destination_service,
    destination_service: flow.source_service,
    IP: flow.IP ? { ...flow.IP, source: flow.IP.destination, destination: flow.IP.source } : undefined,
  };
}
