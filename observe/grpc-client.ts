/**
 * A small client for the Observer API (Tendril's or a real Hubble's): GetFlows as a stream of
 * Flow records, ServerStatus, GetNodes, GetNamespaces and the health check. Used by
 * `tendril observe` and the tests.
 */
import * as grpc from '@grpc/grpc-js';
import { TendrilError } from '../core/index.js';
import type { Flow } from './flow.js';
import type { FlowsQuery } from './flow-query.js';
import { clientCredentials, type ClientTlsOptions } from './grpc-tls.js';
import { loadHubbleGrpc } from './proto-load.js';
import { flowFromWire, nsToTimestamp } from './wire.js';

/** The GetFlows selection, as the server compiles it (flow-query.ts). */
export type GetFlowsParams = FlowsQuery;

/** One item of a GetFlows stream. */
export type FlowsEvent = { flow: Flow } | { lost: { source: string; num_events_lost: number } };

type Unary = (req: unknown, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: any) => void) => void;

export class ObserverClient {
  private readonly observer: grpc.Client & Record<string, any>;
  private readonly health: grpc.Client & Record<string, any>;

  /** `tls` absent: plaintext; present: TLS with those files (the hubble CLI's --tls-* flags). */
  constructor(readonly address: string, tls?: ClientTlsOptions) {
    const { Observer, Health } = loadHubbleGrpc();
    const { creds, options } = tls ? clientCredentials(tls) : { creds: grpc.credentials.createInsecure(), options: {} };
    this.observer = new Observer(address, creds, options) as grpc.Client & Record<string, any>;
    this.health = new Health(address, creds, { channelOverride: this.observer.getChannel() }) as grpc.Client & Record<string, any>;
  }

  close(): void {
    this.observer.close();
  }

  private unary<T>(client: Record<string, any>, method: string, req: unknown, timeoutMs = 12_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = client[method] as Unary;
      fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new TendrilError('TND_OBSERVE_QUERY', `${method} on ${this.address} failed: ${(err.details || err.message).trim()}`, { address: this.address, grpcCode: err.code }, { cause: err }));
        else resolve(res as T);
      });
    });
  }

  healthCheck(service = 'hubble.server.Observer'): Promise<string> {
    return this.unary<{ status?: string }>(this.health, 'Check', { service }).then((r) => r.status ?? 'UNKNOWN');
  }

  serverStatus(): Promise<Record<string, any>> {
    return this.unary(this.observer, 'ServerStatus', {});
  }

  getNodes(): Promise<{ nodes?: Array<Record<string, any>> }> {
    return this.unary(this.observer, 'GetNodes', {});
  }

  getNamespaces(): Promise<{ namespaces?: Array<{ cluster?: string; namespace?: string }> }> {
    return this.unary(this.observer, 'GetNamespaces', {});
  }

  /** Opens a GetFlows stream; `cancel()` ends it. */
  getFlows(params: GetFlowsParams): { events: AsyncIterable<FlowsEvent>; cancel: () => void } {
    const req: Record<string, unknown> = {
      number: params.number ?? 0,
      first: params.first ?? false,
      follow: params.follow ?? false,
      whitelist: params.whitelist ?? [],
      blacklist: params.blacklist ?? [],
    };
    if (params.sinceNs !== undefined) req.since = nsToTimestamp(params.sinceNs);
    if (params.untilNs !== undefined) req.until = nsToTimestamp(params.untilNs);
    const call = this.observer.GetFlows(req) as grpc.ClientReadableStream<Record<string, any>>;
    const address = this.address;
    async function* events(): AsyncIterable<FlowsEvent> {
      try {
        for await (const res of call) {
          if (res.flow) yield { flow: flowFromWire(res.flow) };
          else if (res.lost_events) yield { lost: { source: res.lost_events.source ?? 'UNKNOWN_LOST_EVENT_SOURCE', num_events_lost: Number(res.lost_events.num_events_lost ?? 0) } };
        }
      } catch (err) {
        const e = err as grpc.ServiceError;
        if (e.code === grpc.status.CANCELLED) return;
        throw new TendrilError('TND_OBSERVE_QUERY', `GetFlows on ${address} failed: ${(e.details || e.message).trim()}`, { address, grpcCode: e.code }, { cause: err });
      }
    }
    return { events: events(), cancel: () => call.cancel() };
  }
}
