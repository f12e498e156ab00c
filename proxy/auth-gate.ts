/**
 * Mutual authentication fails closed (docs/proxy.md, Authentication). A connection whose policy
 * verdict is allowed but requires authentication (`authentication.mode: required`) is denied
 * unless its redirect target says the pair was authenticated (`RedirectTarget.authenticated`, set
 * only by the mTLS tunnel). The denial names the rule that requires authentication and its flows
 * say DROPPED / AUTH_REQUIRED; HTTP answers 403 `Access denied` like any denial.
 *
 * `auth_type` on a flow follows from this: the flow builder sets it for an allowed verdict that
 * requires authentication, and after this gate such a verdict only exists on an authenticated
 * connection.
 */
import type { ConnectionPolicy, Verdict } from '../policy/api.js';
import type { RedirectTarget } from './redirect-source.js';

/** Denial verdicts per allowed verdict (connection verdicts are memoized by the engine). */
const denials = new WeakMap<Verdict, Verdict>();

function denialOf(v: Verdict): Verdict {
  let d = denials.get(v);
  if (d !== undefined) return d;
  const auth = v.auth;
  const policy = auth?.policy ?? v.policy;
  const rule = auth?.rule ?? v.rule;
  const deniedSide = { verdict: 'denied' as const, ...(policy !== undefined ? { policy } : {}), ...(rule !== undefined ? { rule } : {}) };
  const side = auth?.side ?? (v.ingress ? 'ingress' : 'egress');
  d = Object.freeze({
    allowed: false,
    authRequired: true,
    l7: v.l7,
    ...(side === 'egress' ? { egress: deniedSide, ingress: v.ingress } : { egress: v.egress, ingress: deniedSide }),
    policy,
    rule,
    auth: { policy: policy ?? '', rule: rule ?? '', side, denied: true },
    reason: `${policy ?? 'a policy'} ${rule ?? ''} requires mutual authentication and this connection is not authenticated`.replace('  ', ' '),
  });
  denials.set(v, d);
  return d;
}

/** True when the verdict denies because authentication is required and did not happen. */
export function isAuthDenial(v: Verdict): boolean {
  return !v.allowed && v.auth?.denied === true;
}

/**
 * The connection's policy as this connection may use it: unchanged when no authentication is
 * required or the target is authenticated; otherwise every judgement is the authentication denial.
 */
export function gateAuthentication(policy: ConnectionPolicy, target: RedirectTarget): ConnectionPolicy {
  const v = policy.verdict;
  if (!v.allowed || !v.authRequired || target.authenticated !== undefined) return policy;
  const d = denialOf(v);
  return { verdict: d, judgeHttp: () => d, judgeKafka: () => d, judgeDns: () => d };
}
