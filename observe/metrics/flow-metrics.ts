/**
 * Hubble's Prometheus metrics as a FlowSink: every flow goes through the enabled handlers into a
 * private prom-client Registry (no global registry), plus the always-on
 * hubble_lost_events_total{source} fed from the ring's lost-event accounting.
 */
import { Counter, Registry } from 'prom-client';
import type { Flow } from '../flow.js';
import type { FlowSink } from '../sink.js';
import { HANDLERS, type MetricHandler } from './handlers.js';
import { parseMetricList } from './options.js';

export interface LostEventSource {
  /** Lost events so far, by LostEventSource name. */
  lostBySource(): ReadonlyMap<string, number>;
}

export class FlowMetrics implements FlowSink {
  readonly registry = new Registry();
  private readonly handlers: MetricHandler[];
  readonly enabled: boolean;

  /** `enabled` is Hubble's option list, e.g. `['dns:query;ignoreAAAA', 'drop', 'http']`. */
  constructor(enabled: readonly string[], lost?: LostEventSource) {
    const specs = parseMetricList(enabled);
    this.handlers = specs.map((s) => HANDLERS[s.name](s, this.registry));
    this.enabled = this.handlers.length > 0;
    const reported = new Map<string, number>();
    const lostCounter = new Counter({
      name: 'hubble_lost_events_total',
      help: 'Number of lost events',
      labelNames: ['source'],
      registers: [this.registry],
      collect() {
        for (const [source, n] of lost?.lostBySource() ?? []) {
          const delta = n - (reported.get(source) ?? 0);
          if (delta >= 0) lostCounter.inc({ source }, delta);
          reported.set(source, n);
        }
      },
    });
  }

  emit(flow: Flow): void {
    for (let i = 0; i < this.handlers.length; i++) this.handlers[i]!.process(flow);
  }

  /** The text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
