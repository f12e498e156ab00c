/**
 * Worker-thread entry of the store writer: owns the write connection to the flow store (the
 * SQLite file, or PostgreSQL when `url` is given) so row building, inserts and pruning never run
 * on the agent's event loop. Messages are handled one at a time, in order.
 * Messages in:  { kind: 'write', id, json (a JSON array of flows) | items + nodes (see StoreSink.writeMessage) } | { kind: 'prune', id, cutoffUs } | { kind: 'close', id }
 * Messages out: { kind: 'done', id, n } | { kind: 'failed', id, message, n }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Flow } from '../flow.js';
import { buildHttpFlow, type HttpFlowRecord } from '../http-flow.js';
import { HttpFlowJson } from './http-json.js';
import { FlowStore } from './flow-store.js';
import { PgFlowStore } from './pg-store.js';
import { toRow, type FlowRow } from './row.js';

type Msg =
  | { kind: 'write'; id: number; json: string }
  | { kind: 'write'; id: number; items: (HttpFlowRecord | string)[]; nodes: string[] } | { kind: 'prune'; id: number; cutoffUs: number } | { kind: 'close'; id: number };

const port = parentPort!;
const data = workerData as { path: string; url?: string };

/** The writer's view of either backend (SQLite calls are synchronous, PostgreSQL's are not). */
interface Writer {
  insert(rows: FlowRow[]): void | Promise<void>;
  prune(cutoffUs: number): number | Promise<number>;
  close(): void | Promise<void>;
}

let store: Writer | null = null;
let queue: Promise<void> = Promise.resolve();

async function open(): Promise<void> {
  try {
    store = data.url ? await PgFlowStore.open(data.url) : new FlowStore(data.path);
    port.postMessage({ kind: 'ready' });
  } catch (err) {
    port.postMessage({ kind: 'open-failed', message: (err as Error).message });
  }
}

function rowsOf(m: Extract<Msg, { kind: 'write' }>): FlowRow[] {
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
  return rows;
}

async function handle(m: Msg): Promise<void> {
  if (!store) return;
  try {
    if (m.kind === 'write') {
      const rows = rowsOf(m);
      await store.insert(rows);
      port.postMessage({ kind: 'done', id: m.id, n: rows.length });
    } else if (m.kind === 'prune') {
      port.postMessage({ kind: 'done', id: m.id, n: await store.prune(m.cutoffUs) });
    } else {
      await store.close();
      store = null;
      port.postMessage({ kind: 'done', id: m.id, n: 0 });
    }
  } catch (err) {
    port.postMessage({ kind: 'failed', id: m.id, message: (err as Error).message, n: 0 });
  }
}

const opened = open();
port.on('message', (m: Msg) => {
  queue = queue.then(() => opened).then(() => handle(m));
});
