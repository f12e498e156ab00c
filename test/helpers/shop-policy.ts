/**
 * A small world + policy set for the datapath suites, parsed by the real policy engine:
 * shop/client may reach shop/web on 8080 (L4 allow) and 8081 (HTTP: GET /public/.* only);
 * 9090 is explicitly denied (ingressDeny), every other port is default-denied.
 */
import { createEngine, parsePolicyText, worldFromObject, type Engine } from '../../policy/index.js';

export const SHOP_POLICY = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-ingress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8081", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/public/.*"}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "9090", protocol: TCP}]
`;

export function shopEngine(clientIp: string, webIp: string): Engine {
  const world = worldFromObject({
    namespaces: [{ name: 'shop' }],
    endpoints: [
      { name: 'client', namespace: 'shop', labels: { app: 'client' }, ips: [clientIp] },
      { name: 'web', namespace: 'shop', labels: { app: 'web' }, ips: [webIp] },
    ],
  });
  return createEngine({ policies: parsePolicyText(SHOP_POLICY, 'shop-policy.yaml'), world });
}

export const SHOP_PORTS = [
  { port: 8080, protocol: 'TCP' as const },
  { port: 8081, protocol: 'TCP' as const },
  { port: 9090, protocol: 'TCP' as const },
  { port: 7070, protocol: 'TCP' as const },
];

/**
 * The shop world with mutual authentication: client may reach web on 6060 (L4) and 8082 (HTTP)
 * only once the pair is authenticated (`authentication.mode: required`).
 */
export const SHOP_AUTH_POLICY = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-mutual-auth, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    authentication: {mode: required}
    toPorts:
    - ports: [{port: "6060", protocol: TCP}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    authentication: {mode: required}
    toPorts:
    - ports: [{port: "8082", protocol: TCP}]
      rules:
        http: [{method: GET}]
`;

export function shopAuthEngine(clientIp: string, webIp: string): Engine {
  const world = worldFromObject({
    namespaces: [{ name: 'shop' }],
    endpoints: [
      { name: 'client', namespace: 'shop', labels: { app: 'client' }, ips: [clientIp] },
      { name: 'web', namespace: 'shop', labels: { app: 'web' }, ips: [webIp] },
    ],
  });
  return createEngine({ policies: parsePolicyText(SHOP_AUTH_POLICY, 'shop-auth-policy.yaml'), world });
}

export const SHOP_AUTH_PORTS = [
  { port: 6060, protocol: 'TCP' as const },
  { port: 8082, protocol: 'TCP' as const },
];
