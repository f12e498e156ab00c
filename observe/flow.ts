/**
 * The Flow record: one observation of traffic (an L3/L4 packet event from the datapath, or one
 * L7 request/response/denial from the proxy). Field names, nesting and enum spellings are those of
 * Hubble's flow.proto as printed by `hubble observe -o json` (proto field names, enums by name),
 * so a JSON line of a Flow is accepted by `hubble observe --input-file`. Wire numbers live in
 * observe/proto/flow.proto. Source: docs/reference/hubble-compat.md §2.
 *
 * Shape contract (cf. cilium/cilium pkg/proxy/accesslog/record.go): a flow says WHAT was observed
 * (`Type`, `event_type`), WHERE (`traffic_direction`, observation point), BETWEEN WHOM (`source`,
 * `destination`, `IP`, `l4`), the OUTCOME (`verdict`, `drop_reason_desc`, the deciding policy in
 * `*_denied_by` / `*_allowed_by`) and at most ONE protocol section (`l7.http` | `l7.dns` |
 * `l7.kafka`). Only additive changes from here on.
 */
import type {
  AuthType,
  FlowType,
  IPVersion,
  L7FlowType,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
} from './enums.js';

/** A workload owning an endpoint (e.g. `{ name: 'checkout', kind: 'Deployment' }`). */
export interface Workload {
  /** Workload name. */
  name: string;
  /** Workload kind (`Deployment`, `StatefulSet`, ...). */
  kind: string;
}

/** One side of a flow (flow.Endpoint). */
export interface Endpoint {
  /** Local endpoint id (0 when the peer is not a local endpoint). */
  ID?: number;
  /** Numeric security identity; 1..8 are reserved identities (2 = world). */
  identity?: number;
  /** Kubernetes namespace, empty for non-pods. */
  namespace?: string;
  /** Labels as `source:key=value`, e.g. `k8s:app=checkout`, `reserved:world`. */
  labels?: string[];
  /** Pod name, empty for non-pods. */
  pod_name?: string;
  /** Owning workloads. */
  workloads?: Workload[];
}

/** flow.IP: the L3 addresses. */
export interface IP {
  /** Source IP address. */
  source: string;
  /** Destination IP address. */
  destination: string;
  /** Address family. */
  ipVersion: IPVersion;
  /** True when the packet was encrypted (WireGuard/IPsec). */
  encrypted?: boolean;
}

/** flow.TCPFlags: which TCP flags the observed segment carried. */
export interface TCPFlags {
  FIN?: boolean;
  SYN?: boolean;
  RST?: boolean;
  PSH?: boolean;
  ACK?: boolean;
  URG?: boolean;
  ECE?: boolean;
  CWR?: boolean;
  NS?: boolean;
}

/** Ports of a TCP/UDP/SCTP flow. */
export interface PortPair {
  /** Source port. */
  source_port: number;
  /** Destination port. */
  destination_port: number;
}

/** flow.Layer4: exactly one of the members is set. */
export interface Layer4 {
  /** TCP ports and the segment's flags. */
  TCP?: PortPair & { flags?: TCPFlags };
  /** UDP ports. */
  UDP?: PortPair;
  /** SCTP ports. */
  SCTP?: PortPair;
  /** ICMPv4 type and code. */
  ICMPv4?: { type: number; code: number };
  /** ICMPv6 type and code. */
  ICMPv6?: { type: number; code: number };
}

/** flow.HTTPHeader. */
export interface HTTPHeader {
  key: string;
  value: string;
}

/** flow.HTTP: one HTTP request or response. */
export interface HTTP {
  /** Status code; 0 on requests. */
  code: number;
  /** Request method. */
  method: string;
  /** Full URL, e.g. `http://payment-service/api/v1/payments?x=1` (passwords redacted). */
  url: string;
  /** `HTTP/1.1` or `HTTP/2`. */
  protocol: string;
  /** Headers worth keeping, sorted by key (never authorization/cookies). */
  headers?: HTTPHeader[];
}

/** flow.DNS: one DNS query or answer. */
export interface DNS {
  /** Query name with trailing dot, e.g. `api.github.com.`. */
  query: string;
  /** Answer IPs. */
  ips?: string[];
  /** Lowest TTL of the answer. */
  ttl?: number;
  /** CNAMEs in the answer. */
  cnames?: string[];
  /** Who observed it; `proxy` for the DNS proxy. */
  observation_source?: string;
  /** IANA rcode (0 NOERROR, 3 NXDOMAIN, 5 REFUSED). */
  rcode?: number;
  /** Question types, e.g. `A`, `AAAA`. */
  qtypes?: string[];
  /** Answer RR types. */
  rrtypes?: string[];
}

/** flow.Kafka: one Kafka request or response. */
export interface Kafka {
  /** Kafka error code (29 = TOPIC_AUTHORIZATION_FAILED on a denial). */
  error_code?: number;
  /** API version of the request. */
  api_version?: number;
  /** API key name, e.g. `produce`, `fetch`. */
  api_key: string;
  /** Correlation id of the request. */
  correlation_id?: number;
  /** Topic the request names. */
  topic?: string;
}

/** flow.Layer7: set if and only if `Type` is `L7`. */
export interface Layer7 {
  /** REQUEST, RESPONSE or SAMPLE. */
  type: L7FlowType;
  /** Request-to-response latency in nanoseconds; set on responses. */
  latency_ns?: number;
  /** DNS record (exactly one of dns/http/kafka). */
  dns?: DNS;
  /** HTTP record. */
  http?: HTTP;
  /** Kafka record. */
  kafka?: Kafka;
}

/** flow.Service: the Kubernetes service a side was addressed as. */
export interface Service {
  name: string;
  namespace: string;
}

/** flow.CiliumEventType: the monitor event that produced the flow (see EVENT_TYPES). */
export interface CiliumEventType {
  /** 1 drop, 4 trace, 5 policy-verdict, 129 L7, ... */
  type: number;
  /** Drop: the numeric drop reason; trace: the observation point number. */
  sub_type?: number;
}

/**
 * flow.Policy: a policy that allowed or denied the flow (newer Hubble protos, fields 21001-21005;
 * ignored by the v0.12 CLI). `rule` is a Tendril extension (field 100).
 */
export interface Policy {
  /** Policy name. */
  name: string;
  /** Policy namespace; empty for cluster-wide policies. */
  namespace?: string;
  /** Policy labels, `source:key=value`. */
  labels?: string[];
  /** Policy repository revision. */
  revision?: number;
  /** `CiliumNetworkPolicy`, `CiliumClusterwideNetworkPolicy`, `NetworkPolicy`. */
  kind?: string;
  /** Tendril: rule path inside the policy, e.g. `ingress[0].toPorts[0].rules.http[1]`. */
  rule?: string;
}

/** flow.TraceContext. */
export interface TraceContext {
  parent?: { trace_id: string };
}

/** One observed flow (flow.Flow). */
export interface Flow {
  /** Event time, RFC 3339 with up to nanoseconds, UTC (`2026-11-26T10:00:00.123456789Z`). */
  time: string;
  /** Unique id of this flow (RFC 4122 UUID). */
  uuid: string;
  /** Outcome: FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, ... */
  verdict: Verdict;
  /** Why a DROPPED flow was dropped (DropReason enum name, e.g. `POLICY_DENIED`). */
  drop_reason_desc?: string;
  /** L3 addresses. */
  IP?: IP;
  /** L4 protocol and ports. */
  l4?: Layer4;
  /** The sending side. */
  source?: Endpoint;
  /** The receiving side. */
  destination?: Endpoint;
  /** L3_L4 for datapath events, L7 for proxy records. */
  Type: FlowType;
  /** Node (agent) that observed the flow. */
  node_name: string;
  /** DNS names known for the source IP (no trailing dot). */
  source_names?: string[];
  /** DNS names known for the destination IP (no trailing dot). */
  destination_names?: string[];
  /** L7 record; present if and only if `Type` is L7. */
  l7?: Layer7;
  /** true for a reply (server to client), false for the original direction, absent if unknown. */
  is_reply?: boolean;
  /** The monitor event that produced this flow (129 for L7 records, 1 for drops, 4 trace). */
  event_type: CiliumEventType;
  /** Service the source was addressed as. */
  source_service?: Service;
  /** Service the destination was addressed as. */
  destination_service?: Service;
  /** INGRESS or EGRESS relative to the enforcing endpoint. */
  traffic_direction: TrafficDirection;
  /** For policy-verdict events: 0 none, 1 L3-Only, 2 L3-L4, 3 L4-Only, 4 all, 5 L3-Proto, 6 Proto-Only. */
  policy_match_type?: number;
  /** Where in the datapath a trace event was observed. */
  trace_observation_point?: TraceObservationPoint;
  /** Proxy port the flow was redirected to, if any. */
  proxy_port?: number;
  /** Socket cookie from the datapath. */
  socket_cookie?: number;
  /** cgroup id of the socket's owner. */
  cgroup_id?: number;
  /** Authentication the flow required (SPIRE when mTLS was required). */
  auth_type?: AuthType;
  /** W3C trace context taken from the request, if any. */
  trace_context?: TraceContext;
  /** Egress policies that allowed the flow. */
  egress_allowed_by?: Policy[];
  /** Ingress policies that allowed the flow. */
  ingress_allowed_by?: Policy[];
  /** Egress policy decision that denied the flow (set on every egress DROPPED flow). */
  egress_denied_by?: Policy[];
  /** Ingress policy decision that denied the flow (set on every ingress DROPPED flow). */
  ingress_denied_by?: Policy[];
  /** Human-readable policy decision lines (e.g. the Verdict's reason). */
  policy_log?: string[];
  /** One-line summary the hubble CLI prints verbatim (hubble-compat §3.3). */
  Summary: string;
}

/** A batch of flows dropped before a reader saw them (flow.LostEvent). */
export interface LostEvent {
  /** Where they were lost. */
  source: 'UNKNOWN_LOST_EVENT_SOURCE' | 'PERF_EVENT_RING_BUFFER' | 'OBSERVER_EVENTS_QUEUE' | 'HUBBLE_RING_BUFFER';
  /** How many. */
  num_events_lost: number;
}
