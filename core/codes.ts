/**
 * The error-code registry: every `TND_<AREA>_<WHAT>` code Tendril may throw, with one line
 * saying when. docs/errors.md lists the same table; test/core/codes.test.ts keeps them in sync.
 */
export const ERROR_CODES = {
  TND_CONFIG_INVALID: 'the configuration (file, environment or flags) failed schema validation',
  TND_CONFIG_READ: 'the configuration file could not be read or parsed as YAML',
  TND_CLI_USAGE: 'a command-line argument is missing or malformed',
  TND_POLICY_YAML: 'a policy file is not valid YAML',
  TND_POLICY_INVALID_FIELD: 'a policy document has a field with an invalid value',
  TND_POLICY_UNKNOWN_FIELD: 'a policy document has a field Cilium does not know',
  TND_POLICY_CONFLICT: 'policies cannot be merged (e.g. two L7 parsers on one port)',
  TND_POLICY_INVALID_SET: 'a set of policy documents was rejected as a whole',
  TND_WORLD_INVALID: 'the world file (endpoints, namespaces, entities) is invalid',
  TND_CASES_INVALID: 'a trace cases file is invalid or names an unknown endpoint',
  TND_PROXY_LISTEN: 'a proxy listener could not bind its address',
  TND_PROXY_REDIRECT: 'a redirect could not be resolved to a destination endpoint',
  TND_HTTP_MALFORMED: 'an HTTP/1.1 request violated the hardened parser rules',
  TND_UPSTREAM_UNAVAILABLE: 'the upstream refused, reset or timed out',
  TND_NATIVE_MISSING: 'the native libbpf addon is not built or cannot be loaded',
  TND_NATIVE_CALL: 'a libbpf call in the native addon failed (errno and message attached)',
  TND_BPF_LOAD: 'a BPF object failed to open or load (verifier log attached)',
  TND_BPF_ATTACH: 'a BPF program could not be attached',
  TND_DATAPATH_UNSUPPORTED: 'the kernel or privileges do not allow the eBPF datapath',
  TND_OBSERVE_QUERY: 'a flow query or filter is invalid',
  TND_OBSERVE_STORE: 'the flow store could not be opened or written',
  TND_KAFKA_TRUNCATED: 'a Kafka frame ended before a field it declares',
  TND_DNS_MALFORMED: 'a DNS message is malformed',
  TND_IDENTITY_INVALID: 'a SPIFFE ID or SVID is invalid',
  TND_WIREGUARD_CONFIG: 'a WireGuard key or peer operation failed',
  TND_INTERNAL_BUG: 'BUG: an impossible state was reached',
  TND_OBSERVE_LISTEN: 'an observability listener (Observer gRPC API or metrics) could not bind its address',
  TND_WIREGUARD_KEY: 'the WireGuard key file is corrupt, unreadable or readable by others (the path is named, never its content)',
  TND_WIREGUARD_UNSUPPORTED: 'encryption.enabled asks for WireGuard but this machine has no usable backend (wireguard-go + /dev/net/tun, root)',
  TND_KAFKA_MALFORMED: 'a Kafka frame is malformed (bad length, overlong varint, leftover bytes, or an API version with no table)',
  TND_CONFIG_UNSUPPORTED: 'the configuration asks for a feature that is not available (the message names the key)',
  TND_OBSERVE_TLS: 'a Hubble TLS certificate, key or CA (hubble.tls.*) is missing, unreadable or unusable',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
