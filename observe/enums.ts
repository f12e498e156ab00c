/**
 * Wire constants of Hubble's flow.proto (Cilium 1.14 protos, as used by the hubble v0.12 CLI)
 * with name<->number helpers. Source: docs/reference/hubble-compat.md §2.1-§2.2.
 * Enum values are carried by NAME in `Flow` (that is how Hubble's JSON output prints them).
 */

/** flow.Verdict (hubble-compat §2.2). */
export const VERDICTS = {
  VERDICT_UNKNOWN: 0,
  FORWARDED: 1,
  DROPPED: 2,
  ERROR: 3,
  AUDIT: 4,
  REDIRECTED: 5,
  TRACED: 6,
  TRANSLATED: 7,
} as const;
export type Verdict = keyof typeof VERDICTS;

/** flow.FlowType. */
export const FLOW_TYPES = { UNKNOWN_TYPE: 0, L3_L4: 1, L7: 2, SOCK: 3 } as const;
export type FlowType = keyof typeof FLOW_TYPES;

/** flow.TrafficDirection. */
export const TRAFFIC_DIRECTIONS = { TRAFFIC_DIRECTION_UNKNOWN: 0, INGRESS: 1, EGRESS: 2 } as const;
export type TrafficDirection = keyof typeof TRAFFIC_DIRECTIONS;

/** flow.L7FlowType. */
export const L7_FLOW_TYPES = { UNKNOWN_L7_TYPE: 0, REQUEST: 1, RESPONSE: 2, SAMPLE: 3 } as const;
export type L7FlowType = keyof typeof L7_FLOW_TYPES;

/** flow.IPVersion. */
export const IP_VERSIONS = { IP_NOT_USED: 0, IPv4: 1, IPv6: 2 } as const;
export type IPVersion = keyof typeof IP_VERSIONS;

/** flow.AuthType. */
export const AUTH_TYPES = { DISABLED: 0, SPIRE: 1, TEST_ALWAYS_FAIL: 2 } as const;
export type AuthType = keyof typeof AUTH_TYPES;

/** flow.LostEventSource. */
export const LOST_EVENT_SOURCES = {
  UNKNOWN_LOST_EVENT_SOURCE: 0,
  PERF_EVENT_RING_BUFFER: 1,
  OBSERVER_EVENTS_QUEUE: 2,
  HUBBLE_RING_BUFFER: 3,
} as const;
export type LostEventSource = keyof typeof LOST_EVENT_SOURCES;

/** flow.TraceObservationPoint (note TO_ENDPOINT = 101 in the enum, 0 as a trace sub_type). */
export const TRACE_OBSERVATION_POINTS = {
  UNKNOWN_POINT: 0,
  TO_PROXY: 1,
  TO_HOST: 2,
  TO_STACK: 3,
  TO_OVERLAY: 4,
  FROM_ENDPOINT: 5,
  FROM_PROXY: 6,
  FROM_HOST: 7,
  FROM_STACK: 8,
  FROM_OVERLAY: 9,
  FROM_NETWORK: 10,
  TO_NETWORK: 11,
  TO_ENDPOINT: 101,
} as const;
export type TraceObservationPoint = keyof typeof TRACE_OBSERVATION_POINTS;

/** Cilium monitor event types: the values of `event_type.type` (hubble-compat §2.2). */
export const EVENT_TYPES = {
  drop: 1,
  debug: 2,
  capture: 3,
  trace: 4,
  'policy-verdict': 5,
  recorder: 6,
  'trace-sock': 7,
  l7: 129,
  agent: 130,
} as const;

/** Trace sub_type numbering (datapath numbering; to-endpoint is 0 here). */
export const TRACE_SUB_TYPES: readonly string[] = [
  'to-endpoint',
  'to-proxy',
  'to-host',
  'to-stack',
  'to-overlay',
  'from-endpoint',
  'from-proxy',
  'from-host',
  'from-stack',
  'from-overlay',
  'from-network',
  'to-network',
];

/** flow.DropReason (v1.14): number -> [enum name, text the CLI prints in the TYPE column]. */
const DROP_REASON_TABLE: ReadonlyArray<readonly [number, string, string]> = [
  [0, 'DROP_REASON_UNKNOWN', 'Unknown'],
  [130, 'INVALID_SOURCE_MAC', 'Invalid source mac'],
  [131, 'INVALID_DESTINATION_MAC', 'Invalid destination mac'],
  [132, 'INVALID_SOURCE_IP', 'Invalid source ip'],
  [133, 'POLICY_DENIED', 'Policy denied'],
  [134, 'INVALID_PACKET_DROPPED', 'Invalid packet'],
  [135, 'CT_TRUNCATED_OR_INVALID_HEADER', 'CT: Truncated or invalid header'],
  [136, 'CT_MISSING_TCP_ACK_FLAG', 'CT: Missing TCP ACK flag'],
  [137, 'CT_UNKNOWN_L4_PROTOCOL', 'CT: Unknown L4 protocol'],
  [138, 'CT_CANNOT_CREATE_ENTRY_FROM_PACKET', "CT: Can't create entry from packet"],
  [139, 'UNSUPPORTED_L3_PROTOCOL', 'Unsupported L3 protocol'],
  [140, 'MISSED_TAIL_CALL', 'Missed tail call'],
  [141, 'ERROR_WRITING_TO_PACKET', 'Error writing to packet'],
  [142, 'UNKNOWN_L4_PROTOCOL', 'Unknown L4 protocol'],
  [143, 'UNKNOWN_ICMPV4_CODE', 'Unknown ICMPv4 code'],
  [144, 'UNKNOWN_ICMPV4_TYPE', 'Unknown ICMPv4 type'],
  [145, 'UNKNOWN_ICMPV6_CODE', 'Unknown ICMPv6 code'],
  [146, 'UNKNOWN_ICMPV6_TYPE', 'Unknown ICMPv6 type'],
  [147, 'ERROR_RETRIEVING_TUNNEL_KEY', 'Error retrieving tunnel key'],
  [148, 'ERROR_RETRIEVING_TUNNEL_OPTIONS', 'Error retrieving tunnel options'],
  [149, 'INVALID_GENEVE_OPTION', 'Invalid Geneve option'],
  [150, 'UNKNOWN_L3_TARGET_ADDRESS', 'Unknown L3 target address'],
  [151, 'STALE_OR_UNROUTABLE_IP', 'Stale or unroutable IP'],
  [152, 'NO_MATCHING_LOCAL_CONTAINER_FOUND', 'No matching local container found'],
  [153, 'ERROR_WHILE_CORRECTING_L3_CHECKSUM', 'Error while correcting L3 checksum'],
  [154, 'ERROR_WHILE_CORRECTING_L4_CHECKSUM', 'Error while correcting L4 checksum'],
  [155, 'CT_MAP_INSERTION_FAILED', 'CT: Map insertion failed'],
  [156, 'INVALID_IPV6_EXTENSION_HEADER', 'Invalid IPv6 extension header'],
  [157, 'IP_FRAGMENTATION_NOT_SUPPORTED', 'IP fragmentation not supported'],
  [158, 'SERVICE_BACKEND_NOT_FOUND', 'Service backend not found'],
  [160, 'NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT', 'No tunnel/encapsulation endpoint (datapath BUG!)'],
  [161, 'FAILED_TO_INSERT_INTO_PROXYMAP', 'Failed to insert into proxymap'],
  [162, 'REACHED_EDT_RATE_LIMITING_DROP_HORIZON', 'Reached EDT rate-limiting drop horizon'],
  [163, 'UNKNOWN_CONNECTION_TRACKING_STATE', 'Unknown connection tracking state'],
  [164, 'LOCAL_HOST_IS_UNREACHABLE', 'Local host is unreachable'],
  [165, 'NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION', 'No configuration available to perform policy decision'],
  [166, 'UNSUPPORTED_L2_PROTOCOL', 'Unsupported L2 protocol'],
  [167, 'NO_MAPPING_FOR_NAT_MASQUERADE', 'No mapping for NAT masquerade'],
  [168, 'UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE', 'Unsupported protocol for NAT masquerade'],
  [169, 'FIB_LOOKUP_FAILED', 'FIB lookup failed'],
  [170, 'ENCAPSULATION_TRAFFIC_IS_PROHIBITED', 'Encapsulation traffic is prohibited'],
  [171, 'INVALID_IDENTITY', 'Invalid identity'],
  [172, 'UNKNOWN_SENDER', 'Unknown sender'],
  [173, 'NAT_NOT_NEEDED', 'NAT not needed'],
  [174, 'IS_A_CLUSTERIP', 'Is a ClusterIP'],
  [175, 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND', 'First logical datagram fragment not found'],
  [176, 'FORBIDDEN_ICMPV6_MESSAGE', 'Forbidden ICMPv6 message'],
  [177, 'DENIED_BY_LB_SRC_RANGE_CHECK', 'Denied by LB src range check'],
  [178, 'SOCKET_LOOKUP_FAILED', 'Socket lookup failed'],
  [179, 'SOCKET_ASSIGN_FAILED', 'Socket assign failed'],
  [180, 'PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL', 'Proxy redirection not supported for protocol'],
  [181, 'POLICY_DENY', 'Policy denied by denylist'],
  [182, 'VLAN_FILTERED', 'VLAN traffic disallowed by VLAN filter'],
  [183, 'INVALID_VNI', 'Incorrect VNI from VTEP'],
  [184, 'INVALID_TC_BUFFER', 'Failed to update or lookup TC buffer'],
  [185, 'NO_SID', 'No SID was found for the IP address'],
  [186, 'MISSING_SRV6_STATE', 'SRv6 state was removed during tail call'],
  [187, 'NAT46', 'L3 translation from IPv4 to IPv6 failed (NAT46)'],
  [188, 'NAT64', 'L3 translation from IPv6 to IPv4 failed (NAT64)'],
  [189, 'AUTH_REQUIRED', 'Authentication required'],
  [190, 'CT_NO_MAP_FOUND', 'No conntrack map found'],
  [191, 'SNAT_NO_MAP_FOUND', 'No nat map found'],
  [192, 'INVALID_CLUSTER_ID', 'Invalid ClusterID'],
  [193, 'UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP', 'Unsupported packet protocol for DSR encapsulation'],
  [194, 'NO_EGRESS_GATEWAY', 'No egress gateway found'],
  [196, 'TTL_EXCEEDED', 'TTL exceeded'],
  [197, 'NO_NODE_ID', 'No node ID found'],
];

export type DropReason = string;

const dropByNumber = new Map<number, { name: string; text: string }>();
const dropByName = new Map<string, number>();
for (const [n, name, text] of DROP_REASON_TABLE) {
  dropByNumber.set(n, { name, text });
  dropByName.set(name, n);
}

/** DropReason enum name for a number (unknown numbers give `DROP_REASON_UNKNOWN`). */
export function dropReasonName(n: number): string {
  return dropByNumber.get(n)?.name ?? 'DROP_REASON_UNKNOWN';
}

/** DropReason number for an enum name, or 0. */
export function dropReasonNumber(name: string): number {
  return dropByName.get(name) ?? 0;
}

/** The text `hubble observe` prints in the TYPE column for a drop sub_type. */
export function dropReasonText(n: number): string {
  return dropByNumber.get(n)?.text ?? String(n);
}

/** Reserved identities as the v0.12 CLI names them (hubble-compat §2.2). */
export const RESERVED_IDENTITIES: Readonly<Record<number, string>> = {
  1: 'host',
  2: 'world',
  3: 'unmanaged',
  4: 'health',
  5: 'init',
  6: 'remote-node',
  7: 'kube-apiserver',
  8: 'ingress',
};

/** Reverse lookup helper for the `as const` enum tables above. */
export function enumName<T extends Record<string, number>>(table: T, n: number): keyof T | undefined {
  for (const k of Object.keys(table)) if (table[k] === n) return k as keyof T;
  return undefined;
}
