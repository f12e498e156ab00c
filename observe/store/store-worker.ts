/**
 * Worker-thread entry of the store writer: owns the write connection to the SQLite flow store so
 * row building, inserts and pruning never run on the agent's event loop.
 * Messages in:  { kind: 'write', id, json (a JSON array of flows) | items + nodes (see StoreSink.writeMessage) } | { kind: 'prune', id, cutoffUs } | { kind: 'close', id }
 * Messages out: { kind: 'done', id, n } | { kind: 'failed', id, message, n }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Flow } from '../flow.js';
import { buildHttpFlow, type HttpFlowRecord } from '../http-flow.js';
import { HttpFlowJson } from './http-json.js';
import { FlowStore } from './flow-store.js';
import { toRow, type FlowRow } from './row.js';

type Msg =
  | { kind: 'write'; id: number; json: string }
  | { kind: 'write'; id: number; items: (HttpFlowRecord | string)[]; nodes: string[] } | { kind: 'prune'; id: number; cutoffUs: number } | { kind: 'close'; id: number };

const port = parentPort!;
let store: FlowStore | null = null;
try {
  store = new FlowStore((workerData as { path: string }).path);
  port.postMessage({ kind: 'ready' });
} catch (err) {
  port.postMessage({ kind: 'open-failed', message: (err as Error).message });
}

port.on('message', (m: Msg) => {
  if (!store) return;
  try {
    if (m.kind === 'write') {
      const rows: FlowRow[] = [];
      const add = (f: Flow, json?: string): void => {
        const r = toRow(f, json);
        if (r) rows.push(r);
      };
      if ('json' in m) for (const f of JSON.parse(m.json) as Flow[]) add(f);
      else {
        // Records: rebuilt flows, serialized with the JSON of shared parts cached per batch. The
        // first one is checked against JSON.stringify; on a difference the batch uses the latter.
        const json = new HttpFlowJson();
        let checked = false;
        let fast = true;
        for (let i = 0; i < m.items.length; i++) {
          const it = m.items[i]!;
          if (typeof it === 'string') {
            add(JSON.parse(it) as Flow);
            continue;
          }
          const f = buildHttpFlow(it);
          f.node_name = m.nodes[i]!;
          if (!checked) {
            checked = true;
            fast = json.stringify(f, it) === JSON.stringify(f);
          }
          add(f, fast ? json.stringify(f, it) : undefined);
        }
      }
      store.insert(rows);
      port.postMessage({ kind: 'done', id: m.id, n: rows.length });
    } else if (m.kind === 'prune') {
      port.postMessage({ kind: 'done', id: m.id, n: store.prune(m.cutoffUs) });
    } else {
      store.close();
      store = null;
      port.postMessage({ kind: 'done', id: m.id, n: 0 });
    }
  } catch (err) {
    port.postMessage({ kind: 'failed', id: m.id, message: (err as Error).message, n: 0 });
  }
});
