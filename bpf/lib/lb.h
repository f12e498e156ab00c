/* SPDX-License-Identifier: Apache-2.0 */
/* Socket-LB helpers: service lookup, O(1) backend pick, reverse translation bookkeeping. */
#ifndef TENDRIL_LB_H
#define TENDRIL_LB_H

#include "maps.h"

#define TD_LB_MISS 0
#define TD_LB_OK 1
#define TD_LB_NO_BACKEND 2

/* Picks a backend for {ip, port(host), proto}. O(1): one hash lookup for the service, one for the slot. */
static __always_inline int td_lb_pick(__u32 ip, __u16 port, __u8 proto, struct td_backend *out)
{
	struct td_svc_key sk = { .vip = ip, .port = port, .proto = proto };
	struct td_svc_val *svc = bpf_map_lookup_elem(&tendril_svc, &sk);
	if (!svc)
		return TD_LB_MISS;
	if (svc->count == 0)
		return TD_LB_NO_BACKEND;
	struct td_backend_key bk = { .svc_id = svc->svc_id, .slot = bpf_get_prandom_u32() % svc->count };
	struct td_backend *be = bpf_map_lookup_elem(&tendril_backend, &bk);
	if (!be)
		return TD_LB_NO_BACKEND;   /* slot being rewritten: treat as empty rather than hang */
	*out = *be;
	return TD_LB_OK;
}

static __always_inline void td_nat_remember(__u64 cookie, __u32 vis_ip, __u16 vis_port, __u32 act_ip, __u16 act_port)
{
	struct td_sock_nat n = { .visible_ip = vis_ip, .visible_port = vis_port, .actual_ip = act_ip, .actual_port = act_port };
	bpf_map_update_elem(&tendril_socknat, &cookie, &n, BPF_ANY);
}

/* Rewrites a peer address {user_ip4, user_port} back to what the app asked for. */
static __always_inline void td_nat_reverse(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct td_sock_nat *n = bpf_map_lookup_elem(&tendril_socknat, &cookie);
	if (!n)
		return;
	if (ctx->user_ip4 == n->actual_ip && bpf_ntohs((__u16)ctx->user_port) == n->actual_port) {
		ctx->user_ip4 = n->visible_ip;
		ctx->user_port = bpf_htons(n->visible_port);
	}
}

static __always_inline __u32 td_ip_identity(__u32 ip)
{
	struct td_identity *id = bpf_map_lookup_elem(&tendril_ipcache, &ip);
	return id ? id->identity : TD_ID_WORLD;
}

static __always_inline __u32 td_self_identity(void)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct td_identity *id = bpf_map_lookup_elem(&tendril_cgid, &cg);
	return id ? id->identity : TD_ID_UNKNOWN;
}

#endif
