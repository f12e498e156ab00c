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
