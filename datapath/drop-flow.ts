/**
 * A tc drop event (struct td_drop_event) as a Hubble-compatible Flow: verdict DROPPED, Cilium's
 * drop reason name, the deciding policy in ingress_denied_by or egress_denied_by (by the hook
 * that dropped it; `default-deny` when none), and the endpoints resolved from the addresses.
 */
import type { DropEvent } from '../native/index.js';
import { DIR, PROTO } from '../native/index.js';
import { newFlow, dropReasonName, type Flow, type Endpoint } from '../observe/index.js';

export interface DropFlowContext {
  policyName(id: number): string | undefined;
  /** `namespace/pod` for an address, or null. */
  endpointByIp(ip: string): string | null;
  nodeName?: string;
}

function endpointOf(ip: string, identity: number, ctx: DropFlowContext): Endpoint {
  const name = ctx.endpointByIp(ip);
  if (!name) return { identity, labels: identity === 2 ? ['reserved:world'] : [] };
  const [namespace, pod] = name.split('/');
  return { identity, namespace, pod_name: pod };
}

export function dropEventToFlow(ev: DropEvent, ctx: DropFlowContext): Flow {
  const policy = ev.policyId ? ctx.policyName(ev.policyId) : undefined;
  const ports = { source_port: ev.sport, destination_port: ev.dport };
  const deciding = policy
    ? [policy.includes('/') ? { namespace: policy.split('/')[0], name: policy.split('/').slice(1).join('/') } : { name: policy }]
    : [{ name: 'default-deny' }];
  return newFlow({
    verdict: 'DROPPED',
    drop_reason_desc: dropReasonName(ev.reason),
    event_type: { type: 1, sub_type: ev.reason },
    IP: { source: ev.saddr, destination: ev.daddr, ipVersion: 'IPv4' },
    l4: ev.proto === PROTO.TCP ? { TCP: ports } : ev.proto === PROTO.UDP ? { UDP: ports } : undefined,
    source: endpointOf(ev.saddr, ev.srcIdentity, ctx),
    destination: endpointOf(ev.daddr, ev.dstIdentity, ctx),
    traffic_direction: ev.dir === DIR.EGRESS ? 'EGRESS' : 'INGRESS',
    ...(ev.dir === DIR.EGRESS ? { egress_denied_by: deciding } : { ingress_denied_by: deciding }),
    node_name: ctx.nodeName ?? '',
  });
}
