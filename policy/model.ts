/**
 * The validated, compiled policy model every later stage works on. Parsers (parse-cilium.ts,
 * parse-np.ts) produce `Rule`s; the engine never sees YAML.
 */
import type { Cidr } from './cidr.js';
import type { NameMatcher } from './fqdn.js';
import type { StringMatcher } from './regex.js';
import type { Selector } from './selector.js';

export type PolicyKind = 'NetworkPolicy' | 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
/** NONE: a protocol Cilium accepts in toPorts (ICMP, VRRP, IGMP) that no TCP/UDP/SCTP flow matches. */
export type PortProto = 'TCP' | 'UDP' | 'SCTP' | 'ANY' | 'NONE';

export interface CidrPeer {
  cidr: Cidr;
  except: Cidr[];
}

/** Who a rule entry selects on the other side of the connection. */
export type PeerMatcher =
  | { kind: 'none' }
  | { kind: 'any' }
  | { kind: 'selectors'; selectors: Selector[] }
  | { kind: 'entities'; entities: string[] }
  | { kind: 'cidrs'; cidrs: CidrPeer[] }
  | { kind: 'fqdns'; matchers: NameMatcher[]; texts: string[] }
  /** fromNodes/toNodes: remote nodes whose labels match (cluster-state-selectors D4). */
  | { kind: 'nodes'; selectors: Selector[] }
  /** toServices (S2-S5): resolved against the world's services when matching. */
  | { kind: 'services'; refs: ServiceRef[] };

/** One toServices element: by name (`k8sService`) or by the Service's labels (`k8sServiceSelector`). */
export type ServiceRef =
  | { by: 'name'; name: string; namespace: string | null }
  | { by: 'selector'; selector: Selector; namespace: string | null };

export interface PortEntry {
  proto: PortProto;
  /** 0 = every port of the protocol; null = a named port (`name`, resolved per cluster-state-selectors §1). */
  port: number | null;
  endPort: number;
  name?: string;
}

export interface HeaderCheck {
  name: string;
  /** Exact value required; undefined = presence only. */
  value?: string;
  /** false when a `mismatch` action is set: never blocks. */
  blocking: boolean;
  /** A secret without a value fallback: the rule never matches. */
  unresolvable?: boolean;
}

export interface HttpRule {
  method?: StringMatcher;
  path?: StringMatcher;
  host?: StringMatcher;
  headers: HeaderCheck[];
  path_: string;
}

export interface KafkaRule {
  keys: ReadonlySet<number> | null;
  apiVersion?: number;
  clientID?: string;
  topic?: string;
  path_: string;
}

export interface DnsRule {
  match: NameMatcher;
  path_: string;
}

export type L7Rules =
  | { kind: 'http'; rules: HttpRule[] }
  | { kind: 'kafka'; rules: KafkaRule[] }
  | { kind: 'dns'; rules: DnsRule[] };

export interface PortRule {
  ports: PortEntry[];
  l7: L7Rules | null;
  /** Field path of this toPorts entry, e.g. `ingress[0].toPorts[1]`. */
  path: string;
}

export interface IcmpField {
  family: 'IPv4' | 'IPv6';
  type: number;
}

export type AuthMode = 'required' | 'disabled' | 'test-always-fail';

/** One element of ingress/egress/ingressDeny/egressDeny. */
export interface RuleEntry {
  peers: PeerMatcher;
  /** null = L3-only (every port and protocol, ICMP included) unless icmps is set. */
  ports: PortRule[] | null;
  icmps: IcmpField[] | null;
  auth: AuthMode | null;
  path: string;
}

export interface DirectionRules {
  /** The rule has a non-empty section for this direction (§4.2). */
  enforced: boolean;
  /** The rule requests default deny for this direction (§4.2 enableDefaultDeny). */
  defaultDeny: boolean;
  allow: RuleEntry[];
  deny: RuleEntry[];
}

export interface Rule {
  /** `namespace/name` (CCNP: `name`). */
  policy: string;
  kind: PolicyKind;
  namespace: string | null;
  /** Pods the rule applies to; null = a host policy (nodeSelector), which selects no pod. */
  subject: Selector | null;
  ingress: DirectionRules;
  egress: DirectionRules;
  /** Where it came from, for messages. */
  source: { file: string; document: number };
}

export interface PolicyDocumentInfo {
  file: string;
  document: number;
  kind: PolicyKind;
  policy: string;
}

/** Non-fatal findings (other kinds ignored, lints). */
export interface PolicyWarning {
  file: string;
  document?: number;
  policy?: string;
  message: string;
}

/** A validated set of policy documents, accepted as a whole. */
export interface PolicySet {
  rules: Rule[];
  documents: PolicyDocumentInfo[];
  warnings: PolicyWarning[];
}
