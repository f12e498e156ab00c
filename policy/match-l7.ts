/** L7 request matching: HTTP §8, Kafka §9, DNS §10.2. All matchers are precompiled. */
import type { DnsRequestFacts, HttpRequestFacts, KafkaRequestFacts } from './api.js';
import { normalizeName } from './fqdn.js';
import { PARSED_TOPIC_KEYS, TOPIC_KEYS } from './kafka-keys.js';
import type { DnsRule, HttpRule, KafkaRule } from './model.js';

function headerValues(req: HttpRequestFacts, name: string): string[] {
  const v = req.headers[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export function httpRuleMatches(r: HttpRule, req: HttpRequestFacts): boolean {
  if (r.method && !r.method(req.method)) return false;
  if (r.path && !r.path(req.path)) return false;
  if (r.host && !r.host(req.host)) return false;
  for (const h of r.headers) {
    if (!h.blocking) continue;
    if (h.unresolvable) return false;
    const vals = headerValues(req, h.name);
    if (vals.length === 0) return false;
    if (h.value !== undefined && !vals.includes(h.value) && vals.join(',') !== h.value) return false;
  }
  return true;
}

export function firstHttpMatch(rules: readonly HttpRule[], req: HttpRequestFacts): HttpRule | null {
  for (const r of rules) if (httpRuleMatches(r, req)) return r;
  return null;
}

function kafkaBaseMatches(r: KafkaRule, req: KafkaRequestFacts): boolean {
  if (r.keys && !r.keys.has(req.apiKey)) return false;
  if (r.apiVersion !== undefined && r.apiVersion !== req.apiVersion) return false;
  if (r.clientID !== undefined && r.clientID !== req.clientID) return false;
  return true;
}

/**
 * §9: a request is allowed when some rule matches key/version/clientID and, for topic-carrying
 * keys, every topic is covered by some such rule (rules without a topic cover all topics).
 * Returns the (first) deciding rule or null.
 */
export function kafkaMatch(rules: readonly KafkaRule[], req: KafkaRequestFacts): KafkaRule | null {
  const base = rules.filter((r) => kafkaBaseMatches(r, req));
  if (base.length === 0) return null;
  if (!TOPIC_KEYS.has(req.apiKey)) return base[0];
  const topicless = base.find((r) => r.topic === undefined);
  if (topicless) return topicless;
  if (!PARSED_TOPIC_KEYS.has(req.apiKey) || req.topics.length === 0) return null;
  let first: KafkaRule | null = null;
  for (const t of req.topics) {
    const r = base.find((x) => x.topic === t);
    if (!r) return null;
    first ??= r;
  }
  return first;
}

export function dnsMatch(rules: readonly DnsRule[], req: DnsRequestFacts): DnsRule | null {
  const name = normalizeName(req.query);
  for (const r of rules) if (r.match(name)) return r;
  return null;
}
