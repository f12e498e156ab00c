/**
 * TS mirrors of bpf/include/tendril.h: one codec per struct, and the map -> (key, value) table.
 * codecs.test.ts compares every codec's size and member offsets with the BTF of the built objects.
 */
import { struct, scalar, type Codec } from './struct.js';

export interface SvcKey { vip: string; port: number; proto: number }
export interface SvcVal { svcId: number; count: number; flags: number }
export interface BackendKey { svcId: number; slot: number }
export interface Backend { ip: string; port: number }
export interface SockNat { visibleIp: string; actualIp: string; visiblePort: number; actualPort: number }
export interface Identity { identity: number; flags: number }
export interface RedirectKey { srcIdentity: number; dstIdentity: number; port: number; proto: number }
export interface RedirectVal { proxyIp: string; proxyPort: number; policyId: number }
export interface TupleKey { ip: string; port: number }
export interface OrigDst { ip: string; port: number; flags: number; srcIdentity: number; policyId: number }
export interface SockKey { netnsCookie: bigint; sip: string; dip: string; sport: number; dport: number }
export interface EndpointVal { epId: number; identity: number; flags: number }
export interface PolicyKey { epId: number; identity: number; port: number; proto: number }
export interface PolicyVal { verdict: number; proxyPort: number; policyId: number }
export interface CtKey { saddr: string; daddr: string; sport: number; dport: number; proto: number }
export interface DropEvent {
  tsNs: bigint; saddr: string; daddr: string; sport: number; dport: number; proto: number; reason: number;
  /** DIR.INGRESS or DIR.EGRESS: the hook that dropped it. */
  dir: number;
  srcIdentity: number; dstIdentity: number; policyId: number; ifindex: number;
}

export const svcKey = struct<SvcKey>('td_svc_key', [['vip', 'ip4'], ['port', 'u16'], ['proto', 'u8'], ['pad', 'pad8']]);
export const svcVal = struct<SvcVal>('td_svc_val', [['svc_id', 'u32'], ['count', 'u16'], ['flags', 'u16']]);
export const backendKey = struct<BackendKey>('td_backend_key', [['svc_id', 'u32'], ['slot', 'u32']]);
export const backend = struct<Backend>('td_backend', [['ip', 'ip4'], ['port', 'u16'], ['pad', 'pad16']]);
export const sockNat = struct<SockNat>('td_sock_nat', [
  ['visible_ip', 'ip4'], ['actual_ip', 'ip4'], ['visible_port', 'u16'], ['actual_port', 'u16'], ['pad', 'pad32'],
]);
export const identity = struct<Identity>('td_identity', [['identity', 'u32'], ['flags', 'u32']]);
export const redirectKey = struct<RedirectKey>('td_redirect_key', [
  ['src_identity', 'u32'], ['dst_identity', 'u32'], ['port', 'u16'], ['proto', 'u8'], ['pad', 'pad8'],
]);
export const redirectVal = struct<RedirectVal>('td_redirect_val', [
  ['proxy_ip', 'ip4'], ['proxy_port', 'u16'], ['pad', 'pad16'], ['policy_id', 'u32'],
]);
export const tupleKey = struct<TupleKey>('td_tuple_key', [['ip', 'ip4'], ['port', 'u16'], ['pad', 'pad16']]);
export const origDst = struct<OrigDst>('td_orig_dst', [
  ['ip', 'ip4'], ['port', 'u16'], ['flags', 'u16'], ['src_identity', 'u32'], ['policy_id', 'u32'],
]);
export const sockKey = struct<SockKey>('td_sock_key', [
  ['netns_cookie', 'u64'], ['sip', 'ip4'], ['dip', 'ip4'], ['sport', 'u16'], ['dport', 'u16'], ['pad', 'pad32'],
]);
export const endpointVal = struct<EndpointVal>('td_endpoint', [['ep_id', 'u32'], ['identity', 'u32'], ['flags', 'u32']]);
export const policyKey = struct<PolicyKey>('td_policy_key', [
  ['ep_id', 'u32'], ['identity', 'u32'], ['port', 'u16'], ['proto', 'u8'], ['pad', 'pad8'],
]);
export const policyVal = struct<PolicyVal>('td_policy_val', [['verdict', 'u8'], ['pad', 'pad8'], ['proxy_port', 'u16'], ['policy_id', 'u32']]);
export const ctKey = struct<CtKey>('td_ct_key', [
  ['saddr', 'ip4'], ['daddr', 'ip4'], ['sport', 'u16'], ['dport', 'u16'], ['proto', 'u8'], ['pad', 'pad24'],
]);
export const dropEvent = struct<DropEvent>('td_drop_event', [
  ['ts_ns', 'u64'], ['saddr', 'ip4'], ['daddr', 'ip4'], ['sport', 'u16'], ['dport', 'u16'], ['proto', 'u8'], ['reason', 'u8'],
  ['dir', 'u16'], ['src_identity', 'u32'], ['dst_identity', 'u32'], ['policy_id', 'u32'], ['ifindex', 'u32'],
]);
export const ip4Key = scalar('__u32', 'ip4') as Codec<string>;
export const u32 = scalar('__u32', 'u32') as Codec<number>;
export const u64 = scalar('__u64', 'u64') as Codec<bigint>;

/** Every map in bpf/lib/maps.h with its key and value codec. */
export const MAPS = {
  tendril_svc: { key: svcKey, value: svcVal },
  tendril_backend: { key: backendKey, value: backend },
  tendril_socknat: { key: u64, value: sockNat },
  tendril_ipcache: { key: ip4Key, value: identity },
  tendril_cgid: { key: u64, value: identity },
  tendril_redirect: { key: redirectKey, value: redirectVal },
  tendril_pending: { key: u64, value: origDst },
  tendril_origdst: { key: tupleKey, value: origDst },
  tendril_endpoint: { key: ip4Key, value: endpointVal },
  tendril_policy: { key: policyKey, value: policyVal },
  tendril_ct: { key: ctKey, value: u64 },
  tendril_config: { key: u32, value: u32 },
  tendril_stats: { key: u32, value: u64 },
} as const;

export type MapName = keyof typeof MAPS;
export type KeyOf<M extends MapName> = (typeof MAPS)[M]['key'] extends Codec<infer K> ? K : never;
export type ValueOf<M extends MapName> = (typeof MAPS)[M]['value'] extends Codec<infer V> ? V : never;

/** Mirrors of the enums in tendril.h (checked against BTF enums in codecs.test.ts). */
export const VERDICT = { ALLOW: 1, DENY: 2, REDIRECT: 3, AUTH: 4 } as const;
export const DROP_REASON = { POLICY: 133, POLICY_DENY: 181, AUTH_REQUIRED: 189 } as const;
export const EP_FLAGS = { ENFORCE_INGRESS: 1, ENFORCE_EGRESS: 2 } as const;
export const DIR = { INGRESS: 0, EGRESS: 1 } as const;
/** An endpoint's egress policy entries are keyed `epId + POLICY_EGRESS` (tendril.h TD_POLICY_EGRESS). */
export const POLICY_EGRESS = 0x8000_0000;
export const CONFIG_FLAGS = { SOCKMAP: 1, REDIRECT: 2 } as const;
export const RESERVED_IDENTITY = { UNKNOWN: 0, HOST: 1, WORLD: 2 } as const;
export const STAT = {
  LB_CONNECT: 0, LB_NO_BACKEND: 1, REDIRECT: 2, SOCKMAP_INSERT: 3, SK_MSG_REDIRECT: 4, TC_DROP: 5, TC_ALLOW: 6,
  ORIG_DST_SOCKOPT: 7,
} as const;
export const PROTO = { TCP: 6, UDP: 17 } as const;
