/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Never loaded: gives every shared struct a BTF entry (like Cilium's bpf/bpf_alignchecker.c) so
 * native/codecs.test.ts can compare the TS codecs with the C layouts.
 */
#include "build/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "include/tendril.h"

#define TD_ANCHOR(t) struct t t##_anchor __attribute__((used)) SEC(".anchors")
TD_ANCHOR(td_svc_key);
TD_ANCHOR(td_svc_val);
TD_ANCHOR(td_backend_key);
TD_ANCHOR(td_backend);
TD_ANCHOR(td_sock_nat);
TD_ANCHOR(td_identity);
TD_ANCHOR(td_redirect_key);
TD_ANCHOR(td_redirect_val);
TD_ANCHOR(td_tuple_key);
TD_ANCHOR(td_orig_dst);
TD_ANCHOR(td_sock_key);
TD_ANCHOR(td_endpoint);
TD_ANCHOR(td_policy_key);
TD_ANCHOR(td_policy_val);
TD_ANCHOR(td_ct_key);
TD_ANCHOR(td_drop_event);

char LICENSE[] SEC("license") = "Dual BSD/GPL";
