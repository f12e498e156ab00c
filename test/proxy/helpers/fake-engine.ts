/**
 * A small test double of the PolicyEngine for unit tests of proxy/ that must not depend on the
 * policy engine's progress: the seed's payment-service-l7 policy hard-wired (checkout may GET
 * /api/v1/payments/.* and POST /api/v1/payments on payments/payment-service-0:8080). Integration
 * tests use the real engine with real YAML instead.
 */
import type { ConnectionPolicy, ConnectionQuery, HttpRequestFacts, PolicyEngine, Verdict } from '../../../policy/api.js';

const POLICY = 'payments/payment-service-l7';
const RULES: Array<{ method: RegExp; path: RegExp; rule: string }> = [
  { method: /^(?:GET)$/, path: /^(?:\/api\/v1\/payments\/.*)$/s, rule: 'ingress[0].toPorts[0].rules.http[0]' },
  { method: /^(?:POST)$/, path: /^(?:\/api\/v1\/payments$)$/, rule: 'ingress[0].toPorts[0].rules.http[1]' },
];

export function fakeSeedEngine(ips: Record<string, string>): PolicyEngine & { judged: HttpRequestFacts[] } {
  const judged: HttpRequestFacts[] = [];
  return {
    judged,
    endpointByIp: (ip) => ips[ip] ?? null,
    connection(q: ConnectionQuery): ConnectionPolicy {
      const from = 'endpoint' in q.from ? q.from.endpoint : null;
      const l4ok = from === 'checkout/checkout-service-0' && 'endpoint' in q.to && q.to.endpoint === 'payments/payment-service-0' && q.port === 8080;
      const verdict: Verdict = l4ok
        ? { allowed: true, authRequired: false, l7: 'http', policy: POLICY, reason: 'allowed at L3/L4 by payments/payment-service-l7' }
        : { allowed: false, authRequired: false, l7: null, ingress: { verdict: 'denied' }, reason: 'no rule allows this peer (default deny)' };
      return {
        verdict,
        judgeHttp(req: HttpRequestFacts): Verdict {
          judged.push(req);
          for (const r of RULES) {
            if (r.method.test(req.method) && r.path.test(req.path)) {
              return { allowed: true, authRequired: false, l7: 'http', policy: POLICY, rule: r.rule, ingress: { verdict: 'allowed', policy: POLICY, rule: r.rule }, reason: `allowed by ${POLICY} ${r.rule}` };
            }
          }
          return { allowed: false, authRequired: false, l7: 'http', policy: POLICY, ingress: { verdict: 'denied', policy: POLICY }, reason: `no HTTP rule of ${POLICY} matches ${req.method} ${req.path}` };
        },
        judgeKafka: () => verdict,
        judgeDns: () => verdict,
      };
    },
  };
}
