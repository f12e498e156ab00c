/**
 * The policy engine's public contract: what the proxy, the datapath glue and the CLI may call.
 * Types only; the implementation lives beside it in policy/ and is exported from policy/index.ts.
 *
 * Hot path: the proxy asks `engine.connection(...)` ONCE per accepted connection and then calls
 * `conn.judgeHttp(req)` (or judgeKafka / judgeDns) for EVERY request on that connection; these
 * must be cheap (precompiled matchers, no allocation beyond the Verdict).
 */
import type { L4Protocol } from '../core/index.js';

/** Which L7 parser judges requests on a (subject, port) with L7 rules. */
export type L7Kind = 'http' | 'kafka' | 'dns';

/** One side's decision (source egress or destination ingress), as printed by `policy trace`. */
export interface SideVerdict {
  verdict: 'allowed' | 'denied';
  /** `namespace/name` of the deciding policy (CCNP: just `name`), when one decided. */
  policy?: string;
  /** Rule path inside that policy, e.g. `ingress[0].toPorts[0].rules.http[1]`. */
  rule?: string;
  /** False when no policy selects the endpoint for this direction (everything allowed). */
  enforced?: boolean;
}

/** The outcome of one judgement: a value, never an exception. */
export interface Verdict {
  allowed: boolean;
  /** True when a matching allow rule carries `authentication.mode: required`. */
  authRequired: boolean;
  /**
   * Set with `authRequired`: the allow rule that requires authentication. `denied` is true when
   * the engine itself denies because authentication can never succeed (`test-always-fail`, or a
   * peer that is not a managed pod); flows then say AUTH_REQUIRED instead of POLICY_DENIED.
   */
  auth?: AuthRequirement;
  /** The L7 parser for this (subject, port), or null when the port has no L7 rules. */
  l7: L7Kind | null;
  egress?: SideVerdict;
  ingress?: SideVerdict;
  /** The deciding policy of the side that denied (or allowed), for flows and logs. */
  policy?: string;
  rule?: string;
  /** A sentence a person can act on. */
  reason: string;
}

/** Which allow rule requires mutual authentication (docs/policy.md, Authentication). */
export interface AuthRequirement {
  policy: string;
  rule: string;
  side: 'egress' | 'ingress';
  denied: boolean;
}

/** A peer named the way world.yaml and cases.yaml name it. */
export type PeerRef =
  | { endpoint: string } /** `<namespace>/<pod>` */
  | { ip: string }
  | { fqdn: string }
  | { entity: string }
  /** `<namespace>/<service>`: the backend chosen by the engine (cluster-state-selectors S10). */
  | { service: string };

export interface HttpRequestFacts {
  method: string;
  /** The normalized `:path`, query string included. */
  path: string;
  /** The Host / :authority value as sent (port included if sent). */
  host: string;
  /** Lower-cased header names. Repeated headers as arrays. */
  headers: Record<string, string | string[] | undefined>;
}

export interface KafkaRequestFacts {
  /** Numeric API key (0 = produce ...) */
  apiKey: number;
  apiVersion: number;
  clientID: string | null;
  /** Topics the request names; empty for topic-less keys or "all topics" metadata. */
  topics: string[];
}

export interface DnsRequestFacts {
  /** The question name, as asked (the engine lower-cases and adds the trailing dot). */
  query: string;
}

/** The L3/L4 decision for one connection plus its per-request L7 judges. */
export interface ConnectionPolicy {
  /** L3/L4 verdict for the connection (with no L7 payload). */
  readonly verdict: Verdict;
  /** Judge one HTTP request on this connection (only meaningful when verdict.l7 === 'http'). */
  judgeHttp(req: HttpRequestFacts): Verdict;
  judgeKafka(req: KafkaRequestFacts): Verdict;
  judgeDns(req: DnsRequestFacts): Verdict;
}

export interface ConnectionQuery {
  from: PeerRef;
  to: PeerRef;
  port: number;
  protocol: L4Protocol;
}

/** A resolved, immutable snapshot of policies + world. Replaced atomically on change. */
export interface PolicyEngine {
  connection(q: ConnectionQuery): ConnectionPolicy;
  /** Resolve a source IP to the endpoint it belongs to (`ns/pod`), or null for non-endpoints. */
  endpointByIp(ip: string): string | null;
  /**
   * A new snapshot with names the DNS proxy learned (normalized name -> IPs) added to the world's
   * fqdns, so toFQDNs selectors match those IPs (policy-semantics §10.3). Absent on engines that
   * cannot learn; the DNS proxy then judges queries but nothing is learned into policy.
   */
  withLearnedFqdns?(learned: ReadonlyMap<string, readonly string[]>): PolicyEngine;
  /**
   * Present on engines whose snapshot can be swapped (SwappableEngine): changes on every swap, so
   * per-connection state taken from an older snapshot is re-derived before the next request.
   */
  readonly version?: number;
}
