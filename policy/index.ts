/**
 * policy/: YAML -> validated policy model (NetworkPolicy, CiliumNetworkPolicy,
 * CiliumClusterwideNetworkPolicy), the world model (endpoints, identities), selectors, the
 * resolved engine answering verdicts with Cilium's semantics, batch trace and lint.
 * Pure library: no I/O beyond reading the files it is handed; no knowledge of the agent.
 * See docs/policy.md and docs/reference/policy-semantics.md.
 */
export type * from './api.js';
export { loadPolicies, parsePolicyText, mergePolicySets, listYamlFiles } from './load-policies.js';
export { loadWorld, parseWorld, worldFromObject, type World, type Endpoint, type WorldInput } from './world.js';
export { loadCases, parseCases, type TraceCase } from './cases.js';
export { createEngine, Engine, resolveSubjects, type EngineOptions } from './engine.js';
export { trace, type TraceResult } from './trace.js';
export type { PolicySet, Rule, PolicyWarning } from './model.js';
export { lintPolicies, type LintFinding } from './lint.js';
export { describeEndpoint, type EndpointView } from './describe.js';
export { endpointIdentityNumbers, RESERVED_IDENTITY, FIRST_ENDPOINT_IDENTITY } from './numeric-identity.js';
export type { WorldNode } from './world.js';
export { SwappableEngine } from './live-engine.js';
export { serviceBackend, serviceByClusterIp, type ServiceBackend } from './services.js';
export type { Service, Node } from './world.js';
