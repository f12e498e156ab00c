/**
 * Hot-path friendly prom-client metrics: a flow costs one string join and one Map lookup per
 * series touched; the prom-client objects are only filled at scrape time (in `collect`). Label
 * objects are built with keys in name order, the order Go's exposition prints them.
 */
import { Counter, type Registry } from 'prom-client';

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const order = names.map((n, i) => [n, values[i] ?? ''] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return Object.fromEntries(order);
}

/** True when both label value lists are equal. */
function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A counter keyed by its label values (in `labelNames` order). */
export class FastCounter {
  private readonly counts = new Map<string, { values: string[]; n: number }>();

  constructor(reg: Registry, name: string, help: string, readonly labelNames: readonly string[]) {
    const counts = this.counts;
    new Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [reg],
      collect() {
        this.reset();
        for (const e of counts.values()) this.inc(labelObject(labelNames, e.values), e.n);
      },
    });
  }

  /** The series touched last: consecutive flows mostly touch the same one (no join, no lookup). */
  private last: { values: string[]; n: number } | undefined;

  inc(values: string[], n = 1): void {
    const last = this.last;
    if (last !== undefined && sameValues(last.values, values)) {
      last.n += n;
      return;
    }
    const key = values.join('\u0001');
    let e = this.counts.get(key);
    if (e) e.n += n;
    else this.counts.set(key, (e = { values, n }));
    this.last = e;
  }
}

/** Prometheus client defaults (no custom buckets upstream, hubble-compat §4). */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A histogram keyed by label values: an observation is one Map lookup and one bucket scan. It is
 * registered as a custom prom-client metric whose `get()` renders `_bucket` (cumulative, `le`
 * last as Go prints it), `_sum` and `_count` series.
 */
export class FastHistogram {
  private readonly series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(reg: Registry, readonly name: string, readonly help: string, readonly labelNames: readonly string[], private readonly buckets = DEFAULT_BUCKETS) {
    reg.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  private last: { values: string[]; counts: number[]; sum: number; count: number } | undefined;

  observe(values: string[], v: number): void {
    let s = this.last;
    if (s === undefined || !sameValues(s.values, values)) {
      const key = values.join('\u0001');
      s = this.series.get(key);
      if (!s) {
        s = { values, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
        this.series.set(key, s);
      }
      this.last = s;
    }
    for (let i = 0; i < this.buckets.length; i++) {
      if (v <= this.buckets[i]!) {
        s.counts[i]!++;
        break;
      }
    }
    s.sum += v;
    s.count++;
  }

  reset(): void {
    this.series.clear();
    this.last = undefined;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const out: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.series.values()) {
      const labels = labelObject(this.labelNames, s.values);
      let cum = 0;
      this.buckets.forEach((b, i) => {
        cum += s.counts[i]!;
        out.push({ labels: { ...labels, le: b }, value: cum, metricName: `${this.name}_bucket` });
      });
      out.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      out.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      out.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: out };
  }
}
