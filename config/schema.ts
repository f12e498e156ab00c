/**
 * The one configuration schema (JSON Schema, checked with ajv) with its defaults beside it.
 * Keys follow Cilium's Helm values where they exist (kubeProxyReplacement, hubble.*,
 * encryption.*, k8sServiceHost/Port); Tendril-only keys are grouped under `standalone`,
 * `proxy`, `datapath`, `health` and `log`.
 */
import { DURATION_PATTERN } from '../core/index.js';

export const HUBBLE_METRICS_SEED = ['dns:query;ignoreAAAA', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http'];

const hostPort = { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' } as const;
/** Durations are strings in YAML (core/duration.ts grammar) and milliseconds in the loaded Config. */
export const duration = { type: 'string', pattern: DURATION_PATTERN } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { enum: ['standalone', 'kubernetes'], default: 'standalone', description: 'standalone: policies from a directory and endpoints from a world file; kubernetes: from the API server' },
    nodeName: { type: 'string', minLength: 1, default: 'standalone-node' },
    kubeProxyReplacement: { type: 'boolean', default: false, description: 'socket-level service load balancing in eBPF (needs root and BPF)' },
    k8sServiceHost: { type: 'string', default: '' },
    k8sServicePort: { type: 'integer', minimum: 1, maximum: 65535, default: 6443 },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
        pretty: { enum: ['auto', 'always', 'never'], default: 'auto', description: 'pretty output only on a TTY when auto' },
      },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { listenAddress: { ...hostPort, default: '127.0.0.1:9879' } },
    },
    standalone: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        policies: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, default: ['examples/corrected'] },
        world: { type: 'string', minLength: 1, default: 'examples/world.yaml' },
        redirects: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['listen', 'destination', 'upstream'],
            properties: {
              listen: hostPort,
              destination: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[^/:\\s]+:[0-9]{1,5}$', description: '<namespace>/<pod>:<port>' },
              upstream: hostPort,
              protocol: { enum: ['http', 'grpc', 'kafka', 'dns'], default: 'http' },
            },
          },
        },
      },
    },
    proxy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1048576, default: 65536 },
        maxHeaderCount: { type: 'integer', minimum: 8, maximum: 10000, default: 100 },
        headersTimeout: { ...duration, default: '10s' },
        requestTimeout: { ...duration, default: '300s' },
        idleTimeout: { ...duration, default: '60s' },
        upstreamConnectTimeout: { ...duration, default: '5s' },
        upstreamResponseTimeout: { ...duration, default: '60s' },
        encodedSlashes: { enum: ['keep', 'reject'], default: 'reject' },
      },
    },
    datapath: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { enum: ['auto', 'true', 'false', true, false], default: 'auto', description: 'auto: on when root with BPF support' },
        cgroupRoot: { type: 'string', default: '/sys/fs/cgroup/unified/tendril' },
        pinRoot: { type: 'string', default: '/sys/fs/bpf/tendril' },
        podInterfaces: {
          type: 'array',
          default: [],
          description: 'standalone pods in network namespaces: tc ingress/egress enforcement on each pod-side interface (docs/datapath.md)',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['netns', 'interface'],
            properties: { netns: { type: 'string', minLength: 1 }, interface: { type: 'string', minLength: 1 } },
          },
        },
      },
    },
    hubble: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        listenAddress: { ...hostPort, default: '127.0.0.1:4245' },
        eventBufferCapacity: { type: 'integer', minimum: 1, maximum: 1048576, default: 4096 },
        metrics: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z0-9-]*(:.*)?$' }, default: HUBBLE_METRICS_SEED },
            listenAddress: { ...hostPort, default: '127.0.0.1:9965' },
          },
        },
        relay: { type: 'object', additionalProperties: false, default: {}, properties: { enabled: { type: 'boolean', default: false } } },
        ui: { type: 'object', additionalProperties: false, default: {}, properties: { enabled: { type: 'boolean', default: false } } },
        store: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: true },
            path: { type: 'string', default: '.tendril/flows.db' },
            retention: { ...duration, default: '30d' },
            url: { type: 'string', pattern: '^(postgres|postgresql)://', description: 'PostgreSQL connection URL: the audit store lives there instead of the SQLite file at path' },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'TLS for the Observer and Peer gRPC API (mutual: clients such as Hubble Relay present a certificate signed by ca.cert)',
          properties: {
            enabled: { type: 'boolean', default: false },
            server: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: { cert: { type: 'string', default: '', description: 'PEM certificate file' }, key: { type: 'string', default: '', description: 'PEM private key file' } },
            },
            ca: { type: 'object', additionalProperties: false, default: {}, properties: { cert: { type: 'string', default: '', description: 'PEM file of the CA that signs client certificates' } } },
          },
        },
      },
    },
    encryption: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        type: { enum: ['wireguard'], default: 'wireguard' },
        wireguard: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            interface: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,15}$', default: 'cilium_wg0', description: "the WireGuard device (Cilium's name by default)" },
            port: { type: 'integer', minimum: 1, maximum: 65535, default: 51871, description: "UDP listen port (Cilium's 51871); peers are reached on the same port" },
            persistentKeepalive: { ...duration, default: '0s', description: 'keepalive to every peer (Cilium Helm value); 0s: off' },
            stateDir: { type: 'string', minLength: 1, default: '.tendril/wireguard', description: 'folder of the node key (private.key 0600, public.key)' },
          },
        },
      },
    },
    dnsProxy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'the DNS proxy and toFQDNs learning (Cilium Helm dnsProxy.*; docs/dns.md)',
      properties: {
        dnsRejectResponseCode: { enum: ['refused', 'nameError'], default: 'refused', description: 'answer to a denied query: REFUSED or NXDOMAIN' },
        minTtl: { type: 'integer', minimum: 0, maximum: 604800, default: 0, description: 'lower bound on learned TTLs, seconds (0 = honour the answer)' },
        endpointMaxIpPerHostname: { type: 'integer', minimum: 1, maximum: 100000, default: 1000, description: 'IPs kept per name per endpoint, oldest evicted' },
        idleConnectionGracePeriod: { ...duration, default: '0s', description: 'how long an expired IP stays allowed' },
        proxyResponseMaxDelay: { ...duration, default: '100ms', description: 'longest an answer waits for learned IPs to reach policy' },
      },
    },
    identity: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false, description: 'SVIDs from SPIFFE/SPIRE and mTLS tunnels to pods on other nodes (docs/identity.md)' },
        trustDomain: { type: 'string', pattern: '^[a-z0-9._-]{1,255}$', default: 'cluster.local' },
        workloadApiSocket: { type: 'string', minLength: 1, default: 'unix:///run/spire/sockets/agent.sock', description: 'SPIFFE Workload API (overridden by SPIFFE_ENDPOINT_SOCKET)' },
        delegatedIdentitySocket: { type: 'string', minLength: 1, default: 'unix:///run/spire/sockets/admin.sock', description: "SPIRE Delegated Identity API (the pods' SVIDs)" },
        tunnel: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            listen: { ...hostPort, default: '0.0.0.0:15008' },
            outbound: { ...hostPort, default: '127.0.0.1:15001', description: 'where the datapath redirects connections that require authentication (docs/identity.md); reachable from the pods' },
          },
        },
      },
    },
    kubernetes: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        kubeconfig: { type: 'string', default: '', description: 'kubeconfig file for mode: kubernetes; empty = KUBECONFIG or in-cluster' },
        serviceAccountDir: { type: 'string', default: '', description: 'in-cluster token and CA directory; empty = /var/run/secrets/kubernetes.io/serviceaccount' },
        resync: { ...duration, default: '10m', description: 'relist every watched resource this often' },
      },
    },
  },
} as const;

/** The validated configuration, deep-frozen. Paths are absolute after loading. */
export interface Config {
  /** Where policies and endpoints come from. */
  mode: 'standalone' | 'kubernetes';
  /** This node's name, as flows and GetNodes report it. */
  nodeName: string;
  /** Socket-level service load balancing in eBPF instead of kube-proxy. */
  kubeProxyReplacement: boolean;
  /** API server address in kubernetes mode (Cilium Helm value). */
  k8sServiceHost: string;
  k8sServicePort: number;
  log: { level: string; pretty: 'auto' | 'always' | 'never' };
  /** Health/readiness endpoint (`/healthz`, `/readyz`), loopback by default. */
  health: { listenAddress: string };
  standalone: {
    /** Policy files or directories (absolute after loading). */
    policies: string[];
    /** The world file: namespaces, endpoints, fqdns, entities (policy-trace.md format). */
    world: string;
    /** Explicit-mode redirects: a proxy listener per L7-enforced (endpoint, port). */
    redirects: Array<{ listen: string; destination: string; upstream: string; protocol: 'http' | 'grpc' | 'kafka' | 'dns' }>;
  };
  proxy: {
    maxHeaderBytes: number;
    maxHeaderCount: number;
    /** Durations: milliseconds after loading (written as `10s`, `5m`, ... in YAML). */
    headersTimeout: number;
    requestTimeout: number;
    idleTimeout: number;
    upstreamConnectTimeout: number;
    upstreamResponseTimeout: number;
    /** What to do with %2F / %5C in paths: reject with 400 (default, the hardened pipeline) or keep them encoded (Envoy's default). */
    encodedSlashes: 'keep' | 'reject';
  };
  datapath: { enabled: 'auto' | 'true' | 'false' | boolean; cgroupRoot: string; pinRoot: string; podInterfaces: Array<{ netns: string; interface: string }> };
  hubble: {
    enabled: boolean;
    /** Hubble Observer gRPC address (standalone default: the relay port 4245 on loopback). */
    listenAddress: string;
    /** Flow ring buffer size (Hubble's default 4095/4096). */
    eventBufferCapacity: number;
    metrics: { enabled: string[]; listenAddress: string };
    relay: { enabled: boolean };
    ui: { enabled: boolean };
    /** `retention`: milliseconds after loading (written as `30d` in YAML). */
    store: { enabled: boolean; path: string; retention: number; url?: string };
    tls: { enabled: boolean; server: { cert: string; key: string }; ca: { cert: string } };
  };
  encryption: {
    enabled: boolean;
    type: 'wireguard';
    /** Device, port and key folder of the WireGuard manager (docs/wireguard.md). */
    wireguard: { interface: string; port: number; /** milliseconds */ persistentKeepalive: number; stateDir: string };
  };
  /** DNS proxy and toFQDNs learning (docs/dns.md). */
  dnsProxy: {
    dnsRejectResponseCode: 'refused' | 'nameError';
    minTtl: number;
    endpointMaxIpPerHostname: number;
    /** milliseconds */
    idleConnectionGracePeriod: number;
    /** milliseconds */
    proxyResponseMaxDelay: number;
  };
  identity: {
    enabled: boolean;
    trustDomain: string;
    workloadApiSocket: string;
    delegatedIdentitySocket: string;
    tunnel: { listen: string; outbound: string };
  };
  /** mode: kubernetes: how to reach the API server (docs/kubernetes.md). */
  /** `resync`: milliseconds after loading. */
  kubernetes: { kubeconfig: string; serviceAccountDir: string; resync: number };
}
