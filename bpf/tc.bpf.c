/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tc.bpf.o: L3/L4 enforcement on a pod's veth (the pod-side end, inside the pod netns).
 *   tnd_tc_ingress   packets INTO the pod: replies of pod-initiated flows pass (tendril_ct);
 *                    otherwise (peer identity, proto, port) is looked up in the endpoint's
 *                    policy; a deny, an auth-required entry or a miss under enforcement drops and
 *                    emits a ring-buffer event
 *   tnd_tc_egress    packets OUT of the pod: under egress enforcement, replies of flows into the
 *                    pod pass (tendril_ct); otherwise (destination identity, proto, port) is looked
 *                    up in the endpoint's egress policy (key ep_id | TD_POLICY_EGRESS), and a deny,
 *                    an auth-required entry or a miss drops with the same ring-buffer event
 *                    (dir = TD_DIR_EGRESS); every passing packet records its flow so the replies
 *                    pass ingress
 */
#include "build/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/maps.h"

#define TD_ETH_P_IP 0x0800
#define TD_TC_ACT_OK 0
#define TD_TC_ACT_SHOT 2

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct td_pkt {
	__u32 saddr, daddr;
	__u16 sport, dport;
	__u8 proto;
};

static __always_inline int td_parse(struct __sk_buff *skb, struct td_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(TD_ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return 0;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->sport = p->dport = 0;
	void *l4 = (void *)ip + ip->ihl * 4;
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		__u16 *ports = l4;
		if ((void *)(ports + 2) > end)
			return 0;
		p->sport = bpf_ntohs(ports[0]);
		p->dport = bpf_ntohs(ports[1]);
	}
	return 1;
}

static __always_inline struct td_policy_val *td_policy_find(__u32 ep, __u32 id, __u16 port, __u8 proto)
{
	/* most specific first; the agent expands deny rules so that first-match is correct */
	struct td_policy_key k = { .ep_id = ep, .identity = id, .port = port, .proto = proto };
	struct td_policy_val *v = bpf_map_lookup_elem(&tendril_policy, &k);
	if (v) return v;
	k.port = 0;
	v = bpf_map_lookup_elem(&tendril_policy, &k);
	if (v) return v;
	k.identity = 0; k.port = port;
	v = bpf_map_lookup_elem(&tendril_policy, &k);
	if (v) return v;
	k.port = 0;
	v = bpf_map_lookup_elem(&tendril_policy, &k);
	if (v) return v;
	k.identity = id; k.proto = 0;
	v = bpf_map_lookup_elem(&tendril_policy, &k);
	if (v) return v;
	k.identity = 0;
	return bpf_map_lookup_elem(&tendril_policy, &k);
}

static __always_inline void td_emit_drop(struct __sk_buff *skb, struct td_pkt *p, __u8 reason, __u32 src_id,
					 __u32 dst_id, __u32 policy_id, __u16 dir)
{
	struct td_drop_event *e = bpf_ringbuf_reserve(&tendril_events, sizeof(*e), 0);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->saddr = p->saddr;
	e->daddr = p->daddr;
	e->sport = p->sport;
	e->dport = p->dport;
	e->proto = p->proto;
	e->reason = reason;
	e->dir = dir;
	e->src_identity = src_id;
	e->dst_identity = dst_id;
	e->policy_id = policy_id;
	e->ifindex = skb->ifindex;
	bpf_ringbuf_submit(e, 0);
}

SEC("tc")
int tnd_tc_ingress(struct __sk_buff *skb)
{
	struct td_pkt p;
	if (!td_parse(skb, &p))
		return TD_TC_ACT_OK;
	struct td_endpoint *ep = bpf_map_lookup_elem(&tendril_endpoint, &p.daddr);
	if (!ep)
		return TD_TC_ACT_OK;
	struct td_ct_key in = { .saddr = p.saddr, .daddr = p.daddr, .sport = p.sport, .dport = p.dport, .proto = p.proto };
	if (!(ep->flags & TD_EP_ENFORCE_INGRESS)) {
		if (ep->flags & TD_EP_ENFORCE_EGRESS) {
			__u64 now = bpf_ktime_get_ns();
			bpf_map_update_elem(&tendril_ct, &in, &now, BPF_ANY);   /* so the pod's replies pass egress */
		}
		return TD_TC_ACT_OK;
	}
	struct td_ct_key rk = { .saddr = p.daddr, .daddr = p.saddr, .sport = p.dport, .dport = p.sport, .proto = p.proto };
	if (bpf_map_lookup_elem(&tendril_ct, &rk))
		return TD_TC_ACT_OK;   /* reply of a flow the pod started */

	struct td_identity *sid = bpf_map_lookup_elem(&tendril_ipcache, &p.saddr);
	__u32 src_id = sid ? sid->identity : TD_ID_WORLD;
	__u32 ep_id = ep->ep_id, dst_id = ep->identity;
	struct td_policy_val *v = td_policy_find(ep_id, src_id, p.dport, p.proto);
	if (v && v->verdict == TD_VERDICT_AUTH) {
		/* the rule requires mutual authentication and no auth entry exists for the pair */
		td_stat_inc(TD_STAT_TC_DROP);
		td_emit_drop(skb, &p, TD_DROP_AUTH_REQUIRED, src_id, dst_id, v->policy_id, TD_DIR_INGRESS);
		return TD_TC_ACT_SHOT;
	}
	if (v && v->verdict != TD_VERDICT_DENY) {
		td_stat_inc(TD_STAT_TC_ALLOW);
		if (ep->flags & TD_EP_ENFORCE_EGRESS) {
			__u64 now = bpf_ktime_get_ns();
			bpf_map_update_elem(&tendril_ct, &in, &now, BPF_ANY);
		}
		return TD_TC_ACT_OK;   /* ALLOW, or REDIRECT (the socket hook already steered it) */
	}
	td_stat_inc(TD_STAT_TC_DROP);
	td_emit_drop(skb, &p, v ? TD_DROP_POLICY_DENY : TD_DROP_POLICY, src_id, dst_id, v ? v->policy_id : 0, TD_DIR_INGRESS);
	return TD_TC_ACT_SHOT;
}

SEC("tc")
int tnd_tc_egress(struct __sk_buff *skb)
{
	struct td_pkt p;
	if (!td_parse(skb, &p))
		return TD_TC_ACT_OK;
	struct td_endpoint *ep = bpf_map_lookup_elem(&tendril_endpoint, &p.saddr);
	if (!ep)
		return TD_TC_ACT_OK;
	struct td_ct_key k = { .saddr = p.saddr, .daddr = p.daddr, .sport = p.sport, .dport = p.dport, .proto = p.proto };
	if (ep->flags & TD_EP_ENFORCE_EGRESS) {
		struct td_ct_key rk = { .saddr = p.daddr, .daddr = p.saddr, .sport = p.dport, .dport = p.sport, .proto = p.proto };
		if (!bpf_map_lookup_elem(&tendril_ct, &rk) && !bpf_map_lookup_elem(&tendril_ct, &k)) {
			/* neither a reply of a flow into the pod nor a flow already allowed: judge it */
			struct td_identity *did = bpf_map_lookup_elem(&tendril_ipcache, &p.daddr);
			__u32 dst_id = did ? did->identity : TD_ID_WORLD;
			struct td_policy_val *v = td_policy_find(ep->ep_id | TD_POLICY_EGRESS, dst_id, p.dport, p.proto);
			if (v && v->verdict == TD_VERDICT_AUTH) {
				/* the rule requires mutual authentication and no auth entry exists for the pair */
				td_stat_inc(TD_STAT_TC_DROP);
				td_emit_drop(skb, &p, TD_DROP_AUTH_REQUIRED, ep->identity, dst_id, v->policy_id, TD_DIR_EGRESS);
				return TD_TC_ACT_SHOT;
			}
			if (!v || v->verdict == TD_VERDICT_DENY) {
				td_stat_inc(TD_STAT_TC_DROP);
				td_emit_drop(skb, &p, v ? TD_DROP_POLICY_DENY : TD_DROP_POLICY, ep->identity, dst_id, v ? v->policy_id : 0,
					     TD_DIR_EGRESS);
				return TD_TC_ACT_SHOT;
			}
			td_stat_inc(TD_STAT_TC_ALLOW);
		}
	}
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&tendril_ct, &k, &now, BPF_ANY);
	return TD_TC_ACT_OK;
}
