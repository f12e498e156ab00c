/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sock.bpf.o: socket-level programs, attached to the agent's (or test run's) cgroup, never the root.
 *   tnd_connect4      service LB (TCP/UDP connect) + transparent redirect to the L7 / DNS proxy
 *   tnd_sendmsg4      service LB for unconnected UDP + UDP redirect to the DNS proxy
 *   tnd_recvmsg4      UDP reverse translation (replies appear to come from the ClusterIP)
 *   tnd_getpeer4      getpeername() reverse translation
 *   tnd_getsockopt    SO_ORIGINAL_DST emulation for the proxy's accepted sockets
 *   tnd_sockops       original-destination tuple map + sockhash insertion + cleanup on close
 *   tnd_skmsg         sockmap fast path between local ends
 */
#include "build/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/lb.h"

#define TD_ECONNREFUSED 111
#define TD_SOL_IP 0
#define TD_SO_ORIGINAL_DST 80
#define TD_AF_INET 2

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int td_redirect_lookup(__u32 dst_ip, __u16 dst_port, __u8 proto, struct td_redirect_val *out,
					      __u32 *src_identity)
{
	struct td_redirect_key k = {
		.src_identity = td_self_identity(),
		.dst_identity = td_ip_identity(dst_ip),
		.port = dst_port,
		.proto = proto,
	};
	*src_identity = k.src_identity;
	struct td_redirect_val *v = bpf_map_lookup_elem(&tendril_redirect, &k);
	if (!v) {
		k.src_identity = 0;
		v = bpf_map_lookup_elem(&tendril_redirect, &k);
	}
	if (!v)
		return 0;
	*out = *v;
	return 1;
}

static __always_inline int td_sock4_xlate(struct bpf_sock_addr *ctx, int allow_redirect)
{
	__u8 proto = ctx->protocol == IPPROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	__u32 vis_ip = ctx->user_ip4;
	__u16 vis_port = bpf_ntohs((__u16)ctx->user_port);
	__u32 ip = vis_ip;
	__u16 port = vis_port;
	int translated = 0;

	struct td_backend be = {};
	int r = td_lb_pick(ip, port, proto, &be);
	if (r == TD_LB_NO_BACKEND) {
		td_stat_inc(TD_STAT_LB_NO_BACKEND);
		bpf_set_retval(-TD_ECONNREFUSED);
		return 0;
	}
	if (r == TD_LB_OK) {
		ip = be.ip;
		port = be.port;
		translated = 1;
		td_stat_inc(TD_STAT_LB_CONNECT);
	}

	/* TCP redirects at connect(); UDP ones (the DNS proxy) at connect() and at every sendmsg() */
	if ((proto == IPPROTO_UDP || allow_redirect) && (td_config() & TD_CFG_REDIRECT)) {
		struct td_redirect_val rv;
		__u32 src_id = 0;
		if (td_redirect_lookup(ip, port, proto, &rv, &src_id)) {
			__u64 cookie = bpf_get_socket_cookie(ctx);
			struct td_orig_dst od = { .ip = ip, .port = port, .src_identity = src_id, .policy_id = rv.policy_id };
			if (proto == IPPROTO_TCP) {
				bpf_map_update_elem(&tendril_pending, &cookie, &od, BPF_ANY);
			} else {
				/* a UDP socket with a port: the DNS proxy sees {ip, port} as the query's source
				 * (ip 0 when bound to the wildcard address; the proxy then looks up {0, port}) */
				struct bpf_sock *sk = ctx->sk;
				if (sk && sk->src_port) {
					struct td_tuple_key tk = { .ip = sk->src_ip4, .port = (__u16)sk->src_port };
					bpf_map_update_elem(&tendril_origdst, &tk, &od, BPF_ANY);
				}
			}
			/* the app keeps seeing what it asked for: the ClusterIP or the original pod address */
			td_nat_remember(cookie, vis_ip, vis_port, rv.proxy_ip, rv.proxy_port);
			ctx->user_ip4 = rv.proxy_ip;
			ctx->user_port = bpf_htons(rv.proxy_port);
			td_stat_inc(TD_STAT_REDIRECT);
			return 1;
		}
	}
	if (translated) {
		td_nat_remember(bpf_get_socket_cookie(ctx), vis_ip, vis_port, ip, port);
		ctx->user_ip4 = ip;
		ctx->user_port = bpf_htons(port);
	}
	return 1;
}

SEC("cgroup/connect4")
int tnd_connect4(struct bpf_sock_addr *ctx)
{
	return td_sock4_xlate(ctx, 1);
}

SEC("cgroup/sendmsg4")
int tnd_sendmsg4(struct bpf_sock_addr *ctx)
{
	return td_sock4_xlate(ctx, 0);
}

SEC("cgroup/recvmsg4")
int tnd_recvmsg4(struct bpf_sock_addr *ctx)
{
	td_nat_reverse(ctx);
	return 1;
}

SEC("cgroup/getpeername4")
int tnd_getpeer4(struct bpf_sock_addr *ctx)
{
	td_nat_reverse(ctx);
	return 1;
}

SEC("cgroup/getsockopt")
int tnd_getsockopt(struct bpf_sockopt *ctx)
{
	if (ctx->level != TD_SOL_IP || ctx->optname != TD_SO_ORIGINAL_DST)
		return 1;
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return 1;
	struct td_tuple_key k = { .ip = sk->dst_ip4, .port = bpf_ntohs((__u16)sk->dst_port) };
	struct td_orig_dst *od = bpf_map_lookup_elem(&tendril_origdst, &k);
	if (!od)
		return 1;   /* keep the kernel's own answer */
	struct sockaddr_in *sa = ctx->optval;
	if ((void *)(sa + 1) > ctx->optval_end)
		return 1;
	sa->sin_family = TD_AF_INET;
	sa->sin_port = bpf_htons(od->port);
	sa->sin_addr.s_addr = od->ip;
	ctx->optlen = sizeof(*sa);
	ctx->retval = 0;
	td_stat_inc(TD_STAT_ORIG_DST_SOCKOPT);
	return 1;
}

static __always_inline void td_sock_key_of(struct bpf_sock_ops *skops, struct td_sock_key *k)
{
	k->netns_cookie = bpf_get_netns_cookie(skops);
	k->sip = skops->local_ip4;
	k->dip = skops->remote_ip4;
	k->sport = (__u16)skops->local_port;
	k->dport = (__u16)bpf_ntohl(skops->remote_port);
	k->pad = 0;
}

SEC("sockops")
int tnd_sockops(struct bpf_sock_ops *skops)
{
	if (skops->family != TD_AF_INET)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: {
		__u64 cookie = bpf_get_socket_cookie(skops);
		struct td_orig_dst *od = bpf_map_lookup_elem(&tendril_pending, &cookie);
		if (od) {
			struct td_tuple_key tk = { .ip = skops->local_ip4, .port = (__u16)skops->local_port };
			struct td_orig_dst copy = *od;
			bpf_map_update_elem(&tendril_origdst, &tk, &copy, BPF_ANY);
			bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
		}
	}
		/* fallthrough */
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		if (td_config() & TD_CFG_SOCKMAP) {
			struct td_sock_key k;
			td_sock_key_of(skops, &k);
			if (bpf_sock_hash_update(skops, &tendril_sockhash, &k, BPF_NOEXIST) == 0)
				td_stat_inc(TD_STAT_SOCKMAP_INSERT);
		}
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE) {
			__u64 cookie = bpf_get_socket_cookie(skops);
			struct td_tuple_key tk = { .ip = skops->local_ip4, .port = (__u16)skops->local_port };
			bpf_map_delete_elem(&tendril_pending, &cookie);
			bpf_map_delete_elem(&tendril_origdst, &tk);
			bpf_map_delete_elem(&tendril_socknat, &cookie);
		}
		break;
	}
	return 1;
}

SEC("sk_msg")
int tnd_skmsg(struct sk_msg_md *msg)
{
	struct td_sock_key peer = {
		.netns_cookie = bpf_get_netns_cookie(msg),
		.sip = msg->remote_ip4,
		.dip = msg->local_ip4,
		.sport = (__u16)bpf_ntohl(msg->remote_port),
		.dport = (__u16)msg->local_port,
	};
	/* SK_PASS either way: a missing peer (remote end, or not in an attached cgroup) means plain TCP */
	if (bpf_msg_redirect_hash(msg, &tendril_sockhash, &peer, BPF_F_INGRESS) == SK_PASS)
		td_stat_inc(TD_STAT_SK_MSG_REDIRECT);
	return SK_PASS;
}
