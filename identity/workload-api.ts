/**
 * SPIFFE Workload API client (docs/identity.md "SPIRE APIs"): FetchX509SVID and
 * FetchX509Bundles streams on one channel, each message applied atomically to an SvidStore.
 * An invalid message (no SVID, a key that does not match, an ID that differs from the SAN,
 * unparseable DER) is discarded and the previous state kept.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { loadSpiffeGrpc, type WlX509BundlesResponse, type WlX509SVIDResponse } from './protos.js';
import { StreamWatcher, spiffeMetadata, CHANNEL_OPTIONS, DEFAULT_BACKOFF, type Backoff, type StreamStatus } from './stream.js';
import { grpcTarget } from './endpoint.js';
import { makeSvid, type Svid } from './svid.js';
import { decodeBundles } from './bundles.js';
import { normalizeTrustDomain } from './spiffe-id.js';
import type { SvidStore } from './store.js';
import { X509Certificate } from 'node:crypto';
import { splitDer } from './encoding.js';

export interface SourceEvents {
  invalid: [string];
  fatal: [string];
  denied: [string];
}

export class WorkloadApiClient extends EventEmitter<SourceEvents> {
  static readonly SOURCE = 'workload-api';
  private readonly client: grpc.Client;
  private readonly svids: StreamWatcher<WlX509SVIDResponse>;
  private readonly bundles: StreamWatcher<WlX509BundlesResponse>;

  constructor(readonly address: string, private readonly store: SvidStore, backoff: Backoff = DEFAULT_BACKOFF) {
    super();
    const { SpiffeWorkloadAPI } = loadSpiffeGrpc();
    this.client = new SpiffeWorkloadAPI(grpcTarget(address), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const c = this.client as unknown as Record<string, (req: object, md: grpc.Metadata) => grpc.ClientReadableStream<never>>;
    this.svids = new StreamWatcher('FetchX509SVID', () => c['FetchX509SVID']!.call(this.client, {}, spiffeMetadata()), backoff);
    this.bundles = new StreamWatcher('FetchX509Bundles', () => c['FetchX509Bundles']!.call(this.client, {}, spiffeMetadata()), backoff);
    this.svids.on('message', (m) => this.onSvids(m));
    this.bundles.on('message', (m) => this.onBundles(m));
    for (const w of [this.svids, this.bundles]) {
      w.on('fatal', (t) => this.emit('fatal', `${w.name}: ${t}`));
      w.on('denied', (t) => {
        if (w === this.svids) this.store.replace(WorkloadApiClient.SOURCE, []);
        this.emit('denied', `${w.name}: ${t}`);
      });
    }
  }

  start(): void {
    this.svids.start();
    this.bundles.start();
  }

  stop(): void {
    this.svids.stop();
    this.bundles.stop();
    this.client.close();
  }

  status(): { svids: StreamStatus; bundles: StreamStatus } {
    return { svids: this.svids.status, bundles: this.bundles.status };
  }

  private onSvids(m: WlX509SVIDResponse): void {
    try {
      if (m.svids.length === 0) throw new Error('svids is empty (required)');
      const list: Svid[] = m.svids.map((s) => {
        if (s.bundle.length === 0) throw new Error(`${s.spiffe_id}: bundle is empty (required)`);
        return makeSvid(s.spiffe_id, s.x509_svid, s.x509_svid_key, s.hint);
      });
      const bundles = new Map<string, X509Certificate[]>();
      for (const [i, s] of m.svids.entries()) {
        const td = list[i]!.trustDomain;
        bundles.set(td, splitDer(s.bundle).map((d) => new X509Certificate(d)));
      }
      for (const [td, certs] of decodeBundles(m.federated_bundles)) if (!bundles.has(normalizeTrustDomain(td))) bundles.set(td, certs);
      this.store.replace(WorkloadApiClient.SOURCE, list);
      if (this.bundles.status.lastMessageAt === undefined) this.store.setBundles(bundles);
    } catch (err) {
      this.emit('invalid', `FetchX509SVID: message discarded: ${(err as Error).message}`);
    }
  }

  private onBundles(m: WlX509BundlesResponse): void {
    try {
      const b = decodeBundles(m.bundles);
      if (b.size === 0) throw new Error('bundles is empty (required)');
      this.store.setBundles(b);
    } catch (err) {
      this.emit('invalid', `FetchX509Bundles: message discarded: ${(err as Error).message}`);
    }
  }
}
