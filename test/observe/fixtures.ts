/**
 * Hand-made flows mirroring the verified examples of docs/reference/hubble-compat.md §3.2
 * (times on May 1 2026, UTC), plus a payments pair (an allowed GET and a denied DELETE).
 */
import { newFlow, type Flow, type Endpoint } from '../../observe/index.js';

export const XWING: Endpoint = { ID: 101, identity: 12345, namespace: 'default', labels: ['k8s:app=xwing', 'k8s:class=xwing', 'k8s:io.kubernetes.pod.namespace=default'], pod_name: 'xwing' };
export const DEATHSTAR: Endpoint = { ID: 202, identity: 23456, namespace: 'default', labels: ['k8s:app=deathstar', 'k8s:io.kubernetes.pod.namespace=default'], pod_name: 'deathstar-6f8d7b9c4-abcde' };
export const TIEFIGHTER: Endpoint = { ID: 103, identity: 34567, namespace: 'default', labels: ['k8s:app=tiefighter', 'k8s:class=tiefighter'], pod_name: 'tiefighter' };
export const COREDNS: Endpoint = { identity: 40000, namespace: 'kube-system', labels: ['k8s:k8s-app=kube-dns'], pod_name: 'coredns-5d78c9869d-x2x2x' };
export const KAFKA0: Endpoint = { identity: 50000, namespace: 'kafka', labels: ['k8s:app=kafka'], pod_name: 'kafka-0' };
export const CHECKOUT: Endpoint = { ID: 11, identity: 61000, namespace: 'payments', labels: ['k8s:app=checkout-service'], pod_name: 'checkout-service' };
export const PAYMENT: Endpoint = { ID: 12, identity: 62000, namespace: 'payments', labels: ['k8s:app=payment-service'], pod_name: 'payment-service' };
export const WORLD: Endpoint = { identity: 2, labels: ['reserved:world'] };

const t = (hms: string): string => `2026-05-01T${hms}Z`;
const ip = (source: string, destination: string) => ({ source, destination, ipVersion: 'IPv4' as const });

/** Spec §3.2, in order, each with the compact line the real CLI printed for it. */
export function specExamples(): Array<{ flow: Flow; line: string }> {
  return [
    {
      flow: newFlow({ time: t('12:00:00.123'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '10.0.2.20'), l4: { TCP: { source_port: 54321, destination_port: 80, flags: { SYN: true } } }, source: XWING, destination: DEATHSTAR, is_reply: false, event_type: { type: 4, sub_type: 0 }, traffic_direction: 'INGRESS', node_name: 'node-1' }),
      line: 'May  1 12:00:00.123: default/xwing:54321 (ID:12345) -> default/deathstar-6f8d7b9c4-abcde:80 (ID:23456) to-endpoint FORWARDED (TCP Flags: SYN)',
    },
    {
      flow: newFlow({ time: t('12:00:00.124'), verdict: 'FORWARDED', IP: ip('10.0.2.20', '10.0.1.10'), l4: { TCP: { source_port: 80, destination_port: 54321, flags: { SYN: true, ACK: true } } }, source: DEATHSTAR, destination: XWING, is_reply: true, event_type: { type: 4, sub_type: 5 }, traffic_direction: 'EGRESS', node_name: 'node-1' }),
      line: 'May  1 12:00:00.124: default/xwing:54321 (ID:12345) <- default/deathstar-6f8d7b9c4-abcde:80 (ID:23456) from-endpoint FORWARDED (TCP Flags: SYN, ACK)',
    },
    {
      flow: newFlow({ time: t('12:00:01.000'), verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED', IP: ip('10.0.1.30', '10.0.2.20'), l4: { TCP: { source_port: 40000, destination_port: 80, flags: { SYN: true } } }, source: TIEFIGHTER, destination: DEATHSTAR, is_reply: false, event_type: { type: 1, sub_type: 133 }, traffic_direction: 'INGRESS', node_name: 'node-1', ingress_denied_by: [{ name: 'rule1', namespace: 'default' }] }),
      line: 'May  1 12:00:01.000: default/tiefighter:40000 (ID:34567) -> default/deathstar-6f8d7b9c4-abcde:80 (ID:23456) Policy denied DROPPED (TCP Flags: SYN)',
    },
    {
      flow: newFlow({ time: t('12:00:01.500'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '10.0.2.20'), l4: { TCP: { source_port: 54321, destination_port: 80, flags: { SYN: true } } }, source: XWING, destination: DEATHSTAR, event_type: { type: 5 }, policy_match_type: 2, traffic_direction: 'INGRESS', node_name: 'node-1' }),
      line: 'May  1 12:00:01.500: default/xwing:54321 (ID:12345) <> default/deathstar-6f8d7b9c4-abcde:80 (ID:23456) policy-verdict:L3-L4 INGRESS ALLOWED (TCP Flags: SYN)',
    },
    {
      flow: newFlow({ time: t('12:00:04.000'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '140.82.112.6'), l4: { TCP: { source_port: 50000, destination_port: 443, flags: { SYN: true } } }, source: XWING, destination: WORLD, destination_names: ['api.github.com'], is_reply: false, event_type: { type: 4, sub_type: 11 }, traffic_direction: 'EGRESS', node_name: 'node-1' }),
      line: 'May  1 12:00:04.000: default/xwing:50000 (ID:12345) -> api.github.com:443 (world) to-network FORWARDED (TCP Flags: SYN)',
    },
    {
      flow: newFlow({ time: t('12:00:06.000'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '10.0.1.1'), l4: { ICMPv4: { type: 8, code: 0 } }, source: XWING, destination: { identity: 1, labels: ['reserved:host'] }, event_type: { type: 4, sub_type: 2 }, traffic_direction: 'EGRESS', node_name: 'node-1' }),
      line: 'May  1 12:00:06.000: default/xwing (ID:12345) <> 10.0.1.1 (host) to-host FORWARDED (ICMPv4 EchoRequest)',
    },
    {
      flow: newFlow({ time: t('12:00:07.000'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '10.96.0.10'), l4: { UDP: { source_port: 42000, destination_port: 53 } }, source: XWING, destination: WORLD, destination_service: { name: 'kube-dns', namespace: 'kube-system' }, is_reply: false, event_type: { type: 4, sub_type: 3 }, traffic_direction: 'EGRESS', node_name: 'node-1' }),
      line: 'May  1 12:00:07.000: default/xwing:42000 (ID:12345) -> kube-system/kube-dns:53 (world) to-stack FORWARDED (UDP)',
    },
    {
      flow: newFlow({ time: t('12:00:02.000'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '10.0.2.20'), l4: { TCP: { source_port: 54321, destination_port: 80 } }, source: XWING, destination: DEATHSTAR, is_reply: false, traffic_direction: 'INGRESS', node_name: 'node-1', l7: { type: 'REQUEST', http: { code: 0, method: 'POST', url: 'http://deathstar.default.svc.cluster.local/v1/request-landing', protocol: 'HTTP/1.1' } } }),
      line: 'May  1 12:00:02.000: default/xwing:54321 (ID:12345) -> default/deathstar-6f8d7b9c4-abcde:80 (ID:23456) http-request FORWARDED (HTTP/1.1 POST http://deathstar.default.svc.cluster.local/v1/request-landing)',
    },
    {
      flow: newFlow({ time: t('12:00:02.003'), verdict: 'FORWARDED', IP: ip('10.0.2.20', '10.0.1.10'), l4: { TCP: { source_port: 80, destination_port: 54321 } }, source: DEATHSTAR, destination: XWING, is_reply: true, traffic_direction: 'INGRESS', node_name: 'node-1', l7: { type: 'RESPONSE', latency_ns: 2_400_000, http: { code: 200, method: 'POST', url: 'http://deathstar.default.svc.cluster.local/v1/request-landing', protocol: 'HTTP/1.1' } } }),
      line: 'May  1 12:00:02.003: default/xwing:54321 (ID:12345) <- default/deathstar-6f8d7b9c4-abcde:80 (ID:23456) http-response FORWARDED (HTTP/1.1 200 2ms (POST http://deathstar.default.svc.cluster.local/v1/request-landing))',
    },
    {
      flow: newFlow({ time: t('12:00:03.000'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '10.0.3.53'), l4: { UDP: { source_port: 41000, destination_port: 53 } }, source: XWING, destination: COREDNS, is_reply: false, traffic_direction: 'EGRESS', node_name: 'node-1', l7: { type: 'REQUEST', dns: { query: 'api.github.com.', qtypes: ['A'], observation_source: 'proxy' } } }),
      line: 'May  1 12:00:03.000: default/xwing:41000 (ID:12345) -> kube-system/coredns-5d78c9869d-x2x2x:53 (ID:40000) dns-request proxy FORWARDED (DNS Query api.github.com. A)',
    },
    {
      flow: newFlow({ time: t('12:00:03.002'), verdict: 'FORWARDED', IP: ip('10.0.3.53', '10.0.1.10'), l4: { UDP: { source_port: 53, destination_port: 41000 } }, source: COREDNS, destination: XWING, is_reply: true, traffic_direction: 'EGRESS', node_name: 'node-1', l7: { type: 'RESPONSE', dns: { query: 'api.github.com.', qtypes: ['A'], ips: ['140.82.112.6'], ttl: 30, rcode: 0, rrtypes: ['A'], observation_source: 'proxy' } } }),
      line: 'May  1 12:00:03.002: default/xwing:41000 (ID:12345) <- kube-system/coredns-5d78c9869d-x2x2x:53 (ID:40000) dns-response proxy FORWARDED (DNS Answer "140.82.112.6" TTL: 30 (Proxy api.github.com. A))',
    },
    {
      flow: newFlow({ time: t('12:00:03.500'), verdict: 'FORWARDED', IP: ip('10.0.3.53', '10.0.1.10'), l4: { UDP: { source_port: 53, destination_port: 41001 } }, source: COREDNS, destination: XWING, is_reply: true, traffic_direction: 'EGRESS', node_name: 'node-1', l7: { type: 'RESPONSE', dns: { query: 'nope.example.', qtypes: ['AAAA'], rcode: 3, ttl: 0, observation_source: 'proxy' } } }),
      line: 'May  1 12:00:03.500: default/xwing:41001 (ID:12345) <- kube-system/coredns-5d78c9869d-x2x2x:53 (ID:40000) dns-response proxy FORWARDED (DNS Answer RCode: Non-Existent Domain TTL: 0 (Proxy nope.example. AAAA))',
    },
    {
      flow: newFlow({ time: t('12:00:05.000'), verdict: 'FORWARDED', IP: ip('10.0.1.10', '10.0.4.92'), l4: { TCP: { source_port: 51000, destination_port: 9092 } }, source: XWING, destination: KAFKA0, is_reply: false, traffic_direction: 'EGRESS', node_name: 'node-1', l7: { type: 'REQUEST', kafka: { api_key: 'produce', api_version: 3, correlation_id: 7, topic: 'empire-announce' } } }),
      line: "May  1 12:00:05.000: default/xwing:51000 (ID:12345) -> kafka/kafka-0:9092 (ID:50000) kafka-request FORWARDED (Kafka request produce correlation id 7 topic 'empire-announce')",
    },
  ];
}

/** The payments examples as Hubble-format flows (an allowed GET and a denied DELETE). */
export function paymentsFlows(): Flow[] {
  const base = { IP: ip('127.0.0.11', '127.0.0.12'), source: CHECKOUT, destination: PAYMENT, traffic_direction: 'INGRESS' as const, node_name: 'node-1' };
  return [
    newFlow({ ...base, time: t('12:01:00.000'), verdict: 'FORWARDED', is_reply: false, l4: { TCP: { source_port: 40100, destination_port: 8080 } }, l7: { type: 'REQUEST', http: { code: 0, method: 'GET', url: 'http://payment-service/api/v1/payments/P123', protocol: 'HTTP/1.1' } } }),
    newFlow({ ...base, time: t('12:01:00.023'), verdict: 'FORWARDED', is_reply: true, IP: ip('127.0.0.12', '127.0.0.11'), source: PAYMENT, destination: CHECKOUT, l4: { TCP: { source_port: 8080, destination_port: 40100 } }, l7: { type: 'RESPONSE', latency_ns: 23_400_000, http: { code: 200, method: 'GET', url: 'http://payment-service/api/v1/payments/P123', protocol: 'HTTP/1.1' } } }),
    newFlow({ ...base, time: t('12:01:01.000'), verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED', is_reply: false, ingress_denied_by: [{ name: 'payment-l7', namespace: 'payments', rule: 'ingress[0].toPorts[0].rules.http' }], l4: { TCP: { source_port: 40101, destination_port: 8080 } }, l7: { type: 'REQUEST', http: { code: 0, method: 'DELETE', url: 'http://payment-service/api/v1/payments', protocol: 'HTTP/1.1' } } }),
  ];
}
