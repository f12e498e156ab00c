/**
 * Parses Hubble's metric option list (hubble-compat §4): each entry is `name[:opt;opt=value...]`,
 * e.g. `dns:query;ignoreAAAA`, `flow:sourceContext=workload-name|reserved-identity`.
 */
import { TendrilError } from '../../core/index.js';

export const METRIC_NAMES = ['dns', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http', 'httpV2', 'kafka', 'policy', 'flows-to-world'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export const CONTEXT_IDENTIFIERS = ['identity', 'namespace', 'pod', 'pod-short', 'pod-name', 'dns', 'ip', 'reserved-identity', 'workload-name', 'app'] as const;
export const LABELS_CONTEXT = [
  'source_ip', 'source_pod', 'source_namespace', 'source_workload', 'source_app',
  'destination_ip', 'destination_pod', 'destination_namespace', 'destination_workload', 'destination_app',
  'traffic_direction',
] as const;
const CONTEXT_KEYS = ['sourceContext', 'destinationContext', 'sourceEgressContext', 'sourceIngressContext', 'destinationEgressContext', 'destinationIngressContext'];

export interface MetricSpec {
  name: MetricName;
  /** Options as given: bare options map to ''. */
  options: Record<string, string>;
}

/** Parses and validates the list; `field` names the config key in errors. */
export function parseMetricList(entries: readonly string[], field = 'hubble.metrics.enabled'): MetricSpec[] {
  const out: MetricSpec[] = [];
  const errors: string[] = [];
  entries.forEach((entry, i) => {
    const at = `${field}[${i}]`;
    const colon = entry.indexOf(':');
    const name = (colon >= 0 ? entry.slice(0, colon) : entry).trim();
    if (!(METRIC_NAMES as readonly string[]).includes(name)) {
      errors.push(`${at}: unknown metric ${JSON.stringify(name)} (known: ${METRIC_NAMES.join(', ')})`);
      return;
    }
    const options: Record<string, string> = {};
    for (const opt of colon >= 0 ? entry.slice(colon + 1).split(';') : []) {
      if (opt.trim() === '') continue;
      const eq = opt.indexOf('=');
      const key = (eq >= 0 ? opt.slice(0, eq) : opt).trim();
      const value = eq >= 0 ? opt.slice(eq + 1).trim() : '';
      options[key] = value;
      if (CONTEXT_KEYS.includes(key)) {
        for (const id of value.split('|')) {
          if (!(CONTEXT_IDENTIFIERS as readonly string[]).includes(id)) errors.push(`${at}: ${key}: unknown context ${JSON.stringify(id)} (known: ${CONTEXT_IDENTIFIERS.join(', ')})`);
        }
      }
      if (key === 'labelsContext') {
        for (const l of value.split(',')) {
          if (!(LABELS_CONTEXT as readonly string[]).includes(l)) errors.push(`${at}: labelsContext: unknown label ${JSON.stringify(l)} (known: ${LABELS_CONTEXT.join(', ')})`);
        }
      }
    }
    if (out.some((m) => m.name === name)) errors.push(`${at}: metric ${JSON.stringify(name)} enabled twice`);
    out.push({ name: name as MetricName, options });
  });
  const names = out.map((m) => m.name);
  if (names.includes('http') && names.includes('httpV2')) errors.push(`${field}: http and httpV2 cannot be enabled together`);
  if (errors.length > 0) throw new TendrilError('TND_CONFIG_INVALID', errors.join('\n'), { field });
  return out;
}
