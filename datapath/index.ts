/**
 * datapath/: the eBPF control plane the eBPF datapath into the agent. `Datapath.start()` (root + BTF +
 * cgroup v2 + built addon/objects, else TND_DATAPATH_UNSUPPORTED with the reason) loads the
 * objects, attaches the socket programs to the agent's own cgroup, and exposes incremental sync
 * for services, identities, endpoints, L3/L4 policy and L7 redirects; `resolvePolicy()` derives
 * those entries from the policy engine; `redirectSource()` is the proxy's transparent mode;
 * `onDrop()` turns tc drop events into flows. `close()` releases everything.
 */
export { Datapath, SOCK_PROGRAMS, type DatapathOptions } from './datapath.js';
export { ServiceSync, type ServiceSpec } from './services.js';
export { PolicyMapSync, PolicyIds, type PolicyEntry, type RedirectEntry } from './policy-maps.js';
export { resolvePolicy, type DatapathEndpoint, type PortSpec, type ResolvedPolicy, type ResolveOptions } from './resolve.js';
export { dropEventToFlow, type DropFlowContext } from './drop-flow.js';
export { TransparentRedirectSource, type EndpointLookup } from './transparent-source.js';
export { TransparentDnsSource } from './dns-source.js';
export { datapathUnsupportedReason, cgroup2Root } from './support.js';
export { datapathComponent, wantsDatapath, endpointIdentities, standaloneRedirects, FIRST_ENDPOINT_IDENTITY, dnsRedirects, egressPorts, type DatapathComponent, type DatapathComponentArgs } from './component.js';
export { resolveEgress, EgressSync, FqdnIdentities, FIRST_LOCAL_IDENTITY, type EgressDestination, type EgressOptions } from './egress.js';
export { serviceSpecsFromWorld } from './world-services.js';
