/**
 * proxy/dns/: the DNS proxy (UDP and TCP on one address), its wire reader, flows and the FQDN
 * cache that feeds toFQDNs. See docs/dns.md.
 */
export { DnsProxy, DEFAULT_DNS_PROXY_OPTIONS, type DnsProxyArgs, type DnsProxyOptions, type DnsProxyStats, type DnsTransport } from './dns-proxy.js';
export { ExplicitDnsSource, type DnsRedirectSource, type DnsTarget, type ExplicitDnsRedirect } from './dns-source.js';
export { FqdnCache, DEFAULT_FQDN_CACHE_OPTIONS, type FqdnCacheOptions, type FqdnCacheRow } from './fqdn-cache.js';
export { admitQuery, buildQuery, parseResponse, denyReply, errorReply, readName, typeName, RCODE, type ParsedQuery, type ParsedResponse, type QueryAdmission, type WireName } from './wire.js';
