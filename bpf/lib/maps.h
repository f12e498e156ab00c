/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every map, defined exactly once. All are pinned by name under the loader's per-run
 * pin_root_path, so sock.bpf.o and tc.bpf.o share them (libbpf reuses a compatible pin).
 */
#ifndef TENDRIL_MAPS_H
#define TENDRIL_MAPS_H

#include "../include/tendril.h"

#define TD_PIN __uint(pinning, LIBBPF_PIN_BY_NAME)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct td_svc_key);
	__type(value, struct td_svc_val);
	TD_PIN;
} tendril_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct td_backend_key);
	__type(value, struct td_backend);
	TD_PIN;
} tendril_backend SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);              /* socket cookie */
	__type(value, struct td_sock_nat);
	TD_PIN;
} tendril_socknat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);              /* IPv4, network order */
	__type(value, struct td_identity);
	TD_PIN;
} tendril_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);              /* cgroup v2 id (inode number of the cgroup dir) */
	__type(value, struct td_identity);
	TD_PIN;
} tendril_cgid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct td_redirect_key);
	__type(value, struct td_redirect_val);
	TD_PIN;
} tendril_redirect SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);              /* socket cookie, connect4 -> sockops */
	__type(value, struct td_orig_dst);
	TD_PIN;
} tendril_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct td_tuple_key);
	__type(value, struct td_orig_dst);
	TD_PIN;
} tendril_origdst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct td_sock_key);
	__type(value, __u64);
} tendril_sockhash SEC(".maps");     /* not pinned: dies with the loader (and so does sk_msg) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);              /* pod IPv4 */
	__type(value, struct td_endpoint);
	TD_PIN;
} tendril_endpoint SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct td_policy_key);
	__type(value, struct td_policy_val);
	TD_PIN;
} tendril_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct td_ct_key);
	__type(value, __u64);            /* last seen, ns */
	TD_PIN;
} tendril_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	TD_PIN;
} tendril_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);            /* TD_CFG_* flags */
	TD_PIN;
} tendril_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TD_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	TD_PIN;
} tendril_stats SEC(".maps");

static __always_inline void td_stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&tendril_stats, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u32 td_config(void)
{
	__u32 zero = 0;
	__u32 *v = bpf_map_lookup_elem(&tendril_config, &zero);
	return v ? *v : 0;
}

#endif
