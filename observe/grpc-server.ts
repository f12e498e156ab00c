/**
 * Hubble's Observer gRPC service (observer.Observer) over the flow ring, grpc.health.v1
 * answering SERVING for `hubble.server.Observer` and "" (hubble-compat §1), and Hubble's
 * `peer.Peer/Notify` over the peer list, on one address (default 127.0.0.1:4245, the address the
 * hubble CLI dials by default). Plaintext, or mutual TLS when `hubble.tls` is on
 * (docs/observe.md, "Peers and Hubble Relay").
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isTendrilError, TendrilError } from '../core/index.js';
import { compileQuery, type FlowsQuery } from './flow-query.js';
import type { Flow } from './flow.js';
import { nowNs } from './new-flow.js';
import { loadHubbleGrpc } from './proto-load.js';
import type { PeerChange, HubblePeer, PeerRegistry } from './peers.js';
import type { FlowRing } from './ring.js';
import { filterFromWire, flowToWire, lostToWire, nsToTimestamp, timestampToNs } from './wire.js';

export const DEFAULT_OBSERVER_ADDRESS = '127.0.0.1:4245';
const HEALTHY_SERVICES = new Set(['', 'hubble.server.Observer', 'observer.Observer']);

export interface ObserverServerOptions {
  ring: FlowRing;
  log: Logger;
  nodeName: string;
  /** Version string reported by ServerStatus/GetNodes. */
  version: string;
  /** `host:port`; port 0 picks a free one. */
  address?: string;
  /** The peer list `peer.Peer/Notify` serves (none: the service is not offered). */
  peers?: PeerRegistry;
  /** Server credentials (default: plaintext); see grpc-tls.ts. */
  credentials?: grpc.ServerCredentials;
  /** True when `credentials` are TLS (reported by GetNodes). */
  tls?: boolean;
}

type AnyCall = grpc.ServerWritableStream<Record<string, unknown>, Record<string, unknown>>;

export class ObserverServer {
  private readonly server = new grpc.Server();
  private readonly log: Logger;
  private boundAddress = '';
  private readonly cancels = new Set<() => void>();

  constructor(private readonly opts: ObserverServerOptions) {
    this.log = opts.log.child({ component: 'observe.grpc' });
    const { Observer, Health } = loadHubbleGrpc();
    this.server.addService(Observer.service, {
      GetFlows: (call: AnyCall) => this.getFlows(call),
      GetAgentEvents: (call: AnyCall) => call.end(),
      GetDebugEvents: (call: AnyCall) => call.end(),
      ServerStatus: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, this.status()),
      GetNodes: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { nodes: [this.node()] }),
      GetNamespaces: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { namespaces: this.namespaces() }),
    });
    this.server.addService(Health.service, {
      Check: (call: grpc.ServerUnaryCall<{ service?: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (HEALTHY_SERVICES.has(call.request.service ?? '')) return cb(null, { status: 'SERVING' });
        cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
      },
      Watch: (call: grpc.ServerWritableStream<{ service?: string }, unknown>) => {
        call.write({ status: HEALTHY_SERVICES.has(call.request.service ?? '') ? 'SERVING' : 'SERVICE_UNKNOWN' });
      },
    });
    if (opts.peers) {
      const peers = opts.peers;
      this.server.addService(loadHubbleGrpc().Peer.service, {
        Notify: (call: AnyCall) => this.notify(call, peers),
      });
    }
  }

  /** `peer.Peer/Notify`: every known peer as PEER_ADDED, then each change, until cancelled. */
  private notify(call: AnyCall, peers: PeerRegistry): void {
    let done = false;
    const send = (type: PeerChange, p: HubblePeer): void => {
      if (done) return;
      const msg: Record<string, unknown> = { name: p.name, address: p.address, type };
      if (p.tls) msg.tls = { server_name: p.tls.serverName };
      call.write(msg);
    };
    const unwatch = peers.watch(send);
    const finish = (): void => {
      if (done) return;
      done = true;
      unwatch();
      this.cancels.delete(cancel);
    };
    const cancel = (): void => {
      finish();
      call.end();
    };
    this.cancels.add(cancel);
    call.on('cancelled', finish);
    call.on('close', finish);
    call.on('error', finish);
  }

  /** Binds and serves; resolves to the bound `host:port`. */
  start(): Promise<string> {
    const address = this.opts.address ?? DEFAULT_OBSERVER_ADDRESS;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          reject(new TendrilError('TND_OBSERVE_LISTEN', `observer API could not listen on ${address}: ${err.message}`, { address }, { cause: err }));
          return;
        }
        const host = address.slice(0, address.lastIndexOf(':'));
        this.boundAddress = `${host}:${port}`;
        this.log.info({ address: this.boundAddress, tls: this.opts.tls === true }, 'observer API listening');
        resolve(this.boundAddress);
      });
    });
  }

  get address(): string {
    return this.boundAddress;
  }

  /** Ends follow streams and stops the server (forcefully after 2 s). */
  stop(): Promise<void> {
    for (const c of [...this.cancels]) c();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private status(): Record<string, unknown> {
    const r = this.opts.ring;
    return {
      num_flows: r.size,
      max_flows: r.capacity,
      seen_flows: r.seen,
      uptime_ns: (Date.now() - r.startedAt) * 1e6,
      num_connected_nodes: { value: 1 },
      num_unavailable_nodes: { value: 0 },
      unavailable_nodes: [],
      version: this.opts.version,
    };
  }

  private node(): Record<string, unknown> {
    const r = this.opts.ring;
    return {
      name: this.opts.nodeName,
      version: this.opts.version,
      address: this.boundAddress,
      state: 'NODE_CONNECTED',
      tls: { enabled: this.opts.tls === true, server_name: '' },
      uptime_ns: (Date.now() - r.startedAt) * 1e6,
      num_flows: r.size,
      max_flows: r.capacity,
      seen_flows: r.seen,
    };
  }

  /** Namespaces seen in flows of the last hour, sorted (upstream behaviour). */
  private namespaces(): Array<{ cluster: string; namespace: string }> {
    const cutoff = new Date(Date.now() - 3600_000).toISOString();
    const seen = new Set<string>();
    for (const f of this.opts.ring.snapshot()) {
      if (f.time < cutoff) continue;
      if (f.source?.namespace) seen.add(f.source.namespace);
      if (f.destination?.namespace) seen.add(f.destination.namespace);
    }
    return [...seen].sort().map((namespace) => ({ cluster: '', namespace }));
  }

  private response(flow: Flow): Record<string, unknown> {
    const wire = flowToWire(flow);
    return { flow: wire, node_name: flow.node_name || this.opts.nodeName, time: wire.time };
  }

  private getFlows(call: AnyCall): void {
    const req = call.request as Record<string, any>;
    const q: FlowsQuery = {
      number: Number(req.number ?? 0),
      first: req.first === true,
      follow: req.follow === true,
      sinceNs: timestampToNs(req.since),
      untilNs: timestampToNs(req.until),
      whitelist: (req.whitelist ?? []).map(filterFromWire),
      blacklist: (req.blacklist ?? []).map(filterFromWire),
    };
    let compiled;
    try {
      compiled = compileQuery(q, nowNs);
    } catch (err) {
      const details = isTendrilError(err) ? err.message : String(err);
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details });
      return;
    }
    const ring = this.opts.ring;
    let cursor = ring.next;
    const backlog = compiled.backlog(ring.snapshot());
    for (const f of backlog) call.write(this.response(f));
    if (!q.follow) {
      call.end();
      return;
    }
    let paused = false;
    let done = false;
    const pump = (): void => {
      if (done || paused) return;
      const { flows, lost, next } = ring.read(cursor);
      cursor = next;
      if (lost > 0) {
        call.write({ lost_events: lostToWire({ source: 'HUBBLE_RING_BUFFER', num_events_lost: lost }), node_name: this.opts.nodeName, time: nsToTimestamp(nowNs()) });
      }
      for (let i = 0; i < flows.length; i++) {
        const f = flows[i]!;
        if (!compiled.matches(f)) continue;
        if (!call.write(this.response(f))) {
          // Backpressure: the rest of this batch stays in the ring; resume after flows[i] on drain
          // (whatever the writer overwrites meanwhile is reported as lost).
          paused = true;
          cursor = next - (flows.length - 1 - i);
          call.once('drain', () => {
            paused = false;
            pump();
          });
          return;
        }
      }
    };
    const unsubscribe = ring.onWrite(pump);
    const finish = (): void => {
      if (done) return;
      done = true;
      unsubscribe();
      this.cancels.delete(cancel);
    };
    const cancel = (): void => {
      finish();
      call.end();
    };
    this.cancels.add(cancel);
    call.on('cancelled', finish);
    call.on('close', finish);
    call.on('error', finish);
    pump();
  }
}
