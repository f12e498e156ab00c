/**
 * What a client connection needs from its listener: options, counters, the flow sink, the
 * upstream pools, and THE judge point (one call per request, for plain requests, Upgrade and
 * CONNECT alike).
 */
import type { FlowSink } from '../../observe/index.js';
import type { ConnectionPolicy, ConnectionQuery, HttpRequestFacts, Verdict } from '../../policy/api.js';
import type { ProxyOptions } from '../options.js';
import type { RedirectTarget } from '../redirect-source.js';
import type { UpstreamPools } from './upstream-conn.js';

/** Counters for status and tests. */
export interface HttpListenerStats {
  connections: number;
  requests: number;
  denied: number;
  malformed: number;
  forwarded: number;
  upstreamErrors: number;
}

export interface JudgedConnection {
  target: RedirectTarget;
  /** The connection's policy, taken from the engine at `version`; re-derived when the engine is swapped. */
  policy: ConnectionPolicy;
  readonly query: ConnectionQuery;
  version: number | undefined;
}

export interface ListenerContext {
  readonly options: ProxyOptions;
  readonly stats: HttpListenerStats;
  readonly flows: FlowSink;
  readonly pools: UpstreamPools;
  flowsOn(): boolean;
  /** The single judge point: the connection's L3/L4 verdict when it denies, else the request's L7 verdict. */
  judge(conn: JudgedConnection, facts: HttpRequestFacts): Verdict;
  debug(obj: object, msg: string): void;
  now(): number;
  /** The connection is closed or became a tunnel: no more timeouts for it. */
  forget(conn: object): void;
}
