/**
 * SPIRE Delegated Identity API client (docs/identity.md "SPIRE APIs"): one
 * SubscribeToX509SVIDs stream per local workload identity, by selectors (`k8s:ns:<ns>`,
 * `k8s:sa:<sa>`), plus SubscribeToX509Bundles; all on one channel to SPIRE's admin socket.
 * A subscription that matches no entry is not an error: it delivers an empty list.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { loadSpiffeGrpc, type DiSubscribeToX509BundlesResponse, type DiSubscribeToX509SVIDsResponse } from './protos.js';
import { StreamWatcher, spiffeMetadata, CHANNEL_OPTIONS, DEFAULT_BACKOFF, type Backoff, type StreamStatus } from './stream.js';
import { grpcTarget } from './endpoint.js';
import { makeSvid, type Svid } from './svid.js';
import { decodeBundles } from './bundles.js';
import type { SvidStore } from './store.js';
import type { SourceEvents } from './workload-api.js';

export interface Selector {
  type: string;
  value: string;
}

/** Selectors of a Kubernetes workload, as SPIRE's k8s workload attestor names them. */
export function k8sSelectors(namespace: string, serviceAccount: string): Selector[] {
  return [
    { type: 'k8s', value: `ns:${namespace}` },
    { type: 'k8s', value: `sa:${serviceAccount}` },
  ];
}

export class DelegatedIdentityClient extends EventEmitter<SourceEvents> {
  private readonly client: grpc.Client;
  private readonly subs = new Map<string, StreamWatcher<DiSubscribeToX509SVIDsResponse>>();
  private readonly bundles: StreamWatcher<DiSubscribeToX509BundlesResponse>;
  private started = false;

  constructor(readonly address: string, private readonly store: SvidStore, private readonly backoff: Backoff = DEFAULT_BACKOFF) {
    super();
    const { DelegatedIdentity } = loadSpiffeGrpc();
    this.client = new DelegatedIdentity(grpcTarget(address), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.bundles = new StreamWatcher('SubscribeToX509Bundles', () => this.rpc('SubscribeToX509Bundles', {}), backoff);
    this.bundles.on('message', (m) => {
      try {
        this.store.setBundles(decodeBundles(m.ca_certificates));
      } catch (err) {
        this.emit('invalid', `SubscribeToX509Bundles: message discarded: ${(err as Error).message}`);
      }
    });
    this.bundles.on('fatal', (t) => this.emit('fatal', `SubscribeToX509Bundles: ${t}`));
    this.bundles.on('denied', (t) => this.emit('denied', `SubscribeToX509Bundles: ${t}`));
  }

  private rpc<T>(method: string, req: object): grpc.ClientReadableStream<T> {
    const c = this.client as unknown as Record<string, (req: object, md: grpc.Metadata) => grpc.ClientReadableStream<T>>;
    return c[method]!.call(this.client, req, spiffeMetadata());
  }

  start(): void {
    this.started = true;
    this.bundles.start();
    for (const w of this.subs.values()) w.start();
  }

  /** Subscribes (once per key) to the SVIDs of the entries matching `selectors`. */
  subscribe(key: string, selectors: Selector[]): void {
    if (this.subs.has(key)) return;
    const source = `delegated:${key}`;
    const w = new StreamWatcher<DiSubscribeToX509SVIDsResponse>(`SubscribeToX509SVIDs(${key})`, () => this.rpc('SubscribeToX509SVIDs', { selectors }), this.backoff);
    w.on('message', (m) => {
      try {
        const list: Svid[] = m.x509_svids.map((e) => {
          const s = e.x509_svid;
          if (!s || !s.id) throw new Error('x509_svid or its id is missing');
          return makeSvid(`spiffe://${s.id.trust_domain}${s.id.path}`, s.cert_chain, e.x509_svid_key, s.hint);
        });
        this.store.replace(source, list);
      } catch (err) {
        this.emit('invalid', `${w.name}: message discarded: ${(err as Error).message}`);
      }
    });
    w.on('denied', (t) => {
      this.store.replace(source, []);
      this.emit('denied', `${w.name}: ${t}`);
    });
    w.on('fatal', (t) => this.emit('fatal', `${w.name}: ${t}`));
    this.subs.set(key, w);
    if (this.started) w.start();
  }

  unsubscribe(key: string): void {
    const w = this.subs.get(key);
    if (!w) return;
    w.stop();
    this.subs.delete(key);
    this.store.drop(`delegated:${key}`);
  }

  stop(): void {
    this.started = false;
    this.bundles.stop();
    for (const w of this.subs.values()) w.stop();
    this.client.close();
  }

  status(): { bundles: StreamStatus; subscriptions: Record<string, StreamStatus> } {
    return { bundles: this.bundles.status, subscriptions: Object.fromEntries([...this.subs].map(([k, w]) => [k, w.status])) };
  }
}
