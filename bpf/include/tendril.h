/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tendril.h: the ONE definition of every map key/value and event layout shared between the BPF
 * programs and user space. native/codecs.ts mirrors these structs; native/codecs.test.ts checks
 * sizes and offsets against the compiled object's BTF, so a change here without the TS side fails.
 *
 * Conventions: IPv4 addresses are raw network-order u32 (as in the packet / sockaddr), ports are
 * HOST order, protocols are IPPROTO numbers (6 TCP, 17 UDP; 0 = any in policy keys).
 * Every struct is padded explicitly to a multiple of its alignment (no implicit holes).
 */
#ifndef TENDRIL_H
#define TENDRIL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* --- socket load balancing (kube-proxy replacement) ---------------------------------------- */
struct td_svc_key {          /* {ClusterIP, port, proto} */
	__u32 vip;
	__u16 port;
	__u8 proto;
	__u8 pad;
};
struct td_svc_val {
	__u32 svc_id;        /* key prefix of this service's backend slots */
	__u16 count;         /* backends 0..count-1 are valid; 0 = reject with ECONNREFUSED */
	__u16 flags;
};
struct td_backend_key {
	__u32 svc_id;
	__u32 slot;
};
struct td_backend {
	__u32 ip;
	__u16 port;
	__u16 pad;
};
/* socket cookie -> what the app must see (visible) vs where it really went (actual) */
struct td_sock_nat {
	__u32 visible_ip;
	__u32 actual_ip;
	__u16 visible_port;
	__u16 actual_port;
	__u32 pad;
};

/* --- identities ------------------------------------------------------------------------------- */
struct td_identity {         /* value of tendril_ipcache (key: __u32 ip) and tendril_cgid (key: __u64 cgroup id) */
	__u32 identity;
	__u32 flags;
};

/* --- transparent redirect to the L7 proxy ----------------------------------------------------- */
struct td_redirect_key {     /* src_identity 0 = any source */
	__u32 src_identity;
	__u32 dst_identity;
	__u16 port;
	__u8 proto;
	__u8 pad;
};
struct td_redirect_val {
	__u32 proxy_ip;
	__u16 proxy_port;
	__u16 pad;
	__u32 policy_id;
};
/* the client's socket as the proxy sees its peer: {ip, port} -> original destination */
struct td_tuple_key {
	__u32 ip;
	__u16 port;
	__u16 pad;
};
struct td_orig_dst {
	__u32 ip;
	__u16 port;
	__u16 flags;
	__u32 src_identity;
	__u32 policy_id;
};

/* --- sockmap fast path -------------------------------------------------------------------------- */
struct td_sock_key {
	__u64 netns_cookie;
	__u32 sip;
	__u32 dip;
	__u16 sport;
	__u16 dport;
	__u32 pad;
};

/* --- tc L3/L4 enforcement ---------------------------------------------------------------------- */
struct td_endpoint {         /* value of tendril_endpoints (key: __u32 pod ip) */
	__u32 ep_id;
	__u32 identity;
	__u32 flags;         /* TD_EP_* */
};
struct td_policy_key {       /* identity 0 = any peer, port 0 = any port, proto 0 = any proto */
	__u32 ep_id;
	__u32 identity;
	__u16 port;
	__u8 proto;
	__u8 pad;
};
struct td_policy_val {
	__u8 verdict;        /* TD_VERDICT_* */
	__u8 pad;
	__u16 proxy_port;
	__u32 policy_id;
};
struct td_ct_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};
struct td_drop_event {
	__u64 ts_ns;
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 reason;         /* TD_DROP_* (Cilium's drop reason numbers) */
	__u16 dir;           /* TD_DIR_*: which hook dropped it */
	__u32 src_identity;
	__u32 dst_identity;
	__u32 policy_id;
	__u32 ifindex;
};

enum td_verdict {
	TD_VERDICT_ALLOW = 1,
	TD_VERDICT_DENY = 2,
	TD_VERDICT_REDIRECT = 3,
	TD_VERDICT_AUTH = 4,         /* allowed once the pair is authenticated: dropped, nothing authenticates at L4 */
};

enum td_drop_reason {        /* numbers from Cilium's bpf/lib/common.h so Hubble names match */
	TD_DROP_POLICY = 133,        /* "Policy denied" (no allow rule) */
	TD_DROP_POLICY_DENY = 181,   /* "Policy denied by denylist" */
	TD_DROP_AUTH_REQUIRED = 189, /* "Authentication required" */
};

enum td_ep_flags {
	TD_EP_ENFORCE_INGRESS = 1,
	TD_EP_ENFORCE_EGRESS = 2,
};

enum td_dir {                /* td_drop_event.dir */
	TD_DIR_INGRESS = 0,
	TD_DIR_EGRESS = 1,
};

/* An endpoint's EGRESS policy entries are keyed ep_id | TD_POLICY_EGRESS (peer = destination);
 * its ingress entries are keyed ep_id (peer = source). */
#define TD_POLICY_EGRESS 0x80000000u

enum td_config_flags {       /* tendril_config[0] */
	TD_CFG_SOCKMAP = 1,      /* insert established sockets into the sockhash */
	TD_CFG_REDIRECT = 2,     /* connect4 consults the redirect map */
};

enum td_reserved_identity {  /* Cilium reserved identities */
	TD_ID_UNKNOWN = 0,
	TD_ID_HOST = 1,
	TD_ID_WORLD = 2,
};

enum td_stat {               /* tendril_stats index */
	TD_STAT_LB_CONNECT = 0,  /* connect4/sendmsg4 rewrote to a backend */
	TD_STAT_LB_NO_BACKEND,   /* rejected: service without backends */
	TD_STAT_REDIRECT,        /* connect4 sent the socket to the proxy */
	TD_STAT_SOCKMAP_INSERT,
	TD_STAT_SK_MSG_REDIRECT,
	TD_STAT_TC_DROP,
	TD_STAT_TC_ALLOW,
	TD_STAT_ORIG_DST_SOCKOPT,
	TD_STAT_MAX = 16,
};

#endif
