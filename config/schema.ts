/**
 * The one configuration schema (JSON Schema, checked with ajv) with its defaults beside it.
 * Keys follow Cilium's Helm values where they exist (kubeProxyReplacement, hubble.*,
 * encryption.*, k8sServiceHost/Port); Tendril-only keys are grouped under `standalone`,
 * `proxy`, `datapath`, `health` and `log`.
 */
export const HUBBLE_METRICS_SEED = ['dns:query;ignoreAAAA', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http'];

const hostPort = { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' } as const;
const duration = { type: 'string', pattern: '^[0-9]+(ms|s|m|h|d)$' } as const;

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
    headersTimeout: string;
    requestTimeout: string;
    idleTimeout: string;
    upstreamConnectTimeout: string;
    upstreamResponseTimeout: string;
    /** What to do with %2F / %5C in paths: reject with 400 (default, the hardened pipeline) or keep them encoded (Envoy's default). */
    encodedSlashes: 'keep' | 'reject';
  };
  datapath: { enabled: 'auto' | 'true' | 'false' | boolean; cgroupRoot: string; pinRoot: string };
  hubble: {
    enabled: boolean;
    /** Hubble Observer gRPC address (standalone default: the relay port 4245 on loopback). */
    listenAddress: string;
    /** Flow ring buffer size (Hubble's default 4095/4096). */
    eventBufferCapacity: number;
    metrics: { enabled: string[]; listenAddress: string };
    relay: { enabled: boolean };
    ui: { enabled: boolean };
    store: { enabled: boolean; path: string; retention: string };
  };
  encryption: { enabled: boolean; type: 'wireguard' };
  /** mode: kubernetes: how to reach the API server (docs/kubernetes.md). */
  kubernetes: { kubeconfig: string; serviceAccountDir: string; resync: string };
}
