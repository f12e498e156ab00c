/**
 * An in-test SPIRE agent: the SPIFFE Workload API and SPIRE's Delegated Identity API served
 * with @grpc/grpc-js on unix sockets, from the same proto definitions the client uses. It
 * enforces the `workload.spiffe.io: true` header as SPIRE does, streams the complete state on
 * connect and on every change, and can fail calls with a chosen status.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSpiffeGrpc } from '../../identity/index.js';
import type { Issued } from './pki.js';

export interface FakeSvid {
  id: string;
  leaf: Issued;
  intermediates?: Issued[];
}

type Call = grpc.ServerWritableStream<Record<string, unknown>, unknown>;

export class FakeSpire {
  private server: grpc.Server | undefined;
  private readonly svidCalls = new Set<Call>();
  private readonly bundleCalls = new Set<Call>();
  private readonly diCalls = new Map<Call, string>();
  private readonly diBundleCalls = new Set<Call>();
  /** The caller's own SVIDs (Workload API). */
  workload: FakeSvid[] = [];
  /** Delegated entries: selector key (sorted "type:value" joined by ",") → SVIDs. */
  entries = new Map<string, FakeSvid[]>();
  /** Trust domain → roots. */
  bundles = new Map<string, Issued[]>();
  /** When set, every new call fails with this status. */
  failWith: { code: grpc.status; details: string } | undefined;
  calls = 0;
  /** Corrupts the next Workload API SVID message (key of another certificate). */
  corruptNext: Issued | undefined;

  constructor(readonly socket: string) {}

  async start(): Promise<void> {
    const { SpiffeWorkloadAPI, DelegatedIdentity } = loadSpiffeGrpc();
    const server = new grpc.Server();
    const guard = (call: Call, needHeader: boolean): boolean => {
      this.calls++;
      const h = call.metadata.get('workload.spiffe.io');
      if (needHeader && (h.length !== 1 || h[0] !== 'true')) {
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'security header missing from request' });
        return false;
      }
      if (this.failWith) {
        call.emit('error', this.failWith);
        return false;
      }
      return true;
    };
    const track = (set: Set<Call> | Map<Call, string>, call: Call): void => {
      call.on('cancelled', () => set.delete(call));
      call.on('close', () => set.delete(call));
    };
    server.addService(SpiffeWorkloadAPI.service, {
      FetchX509SVID: (call: Call) => {
        if (!guard(call, true)) return;
        this.svidCalls.add(call);
        track(this.svidCalls, call);
        this.writeSvids(call);
      },
      FetchX509Bundles: (call: Call) => {
        if (!guard(call, true)) return;
        this.bundleCalls.add(call);
        track(this.bundleCalls, call);
        call.write(this.bundlesMsg('bundles'));
      },
    });
    server.addService(DelegatedIdentity.service, {
      SubscribeToX509SVIDs: (call: Call) => {
        if (!guard(call, false)) return;
        const sels = (call.request['selectors'] as { type: string; value: string }[]).map((s) => `${s.type}:${s.value}`).sort().join(',');
        this.diCalls.set(call, sels);
        track(this.diCalls, call);
        this.writeEntries(call, sels);
      },
      SubscribeToX509Bundles: (call: Call) => {
        if (!guard(call, false)) return;
        this.diBundleCalls.add(call);
        track(this.diBundleCalls, call);
        call.write(this.bundlesMsg('ca_certificates'));
      },
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${this.socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    this.server = server;
  }

  /** Pushes the current state to every open stream (a rotation, a new bundle, a new entry). */
  push(): void {
    for (const c of this.svidCalls) this.writeSvids(c);
    for (const c of this.bundleCalls) c.write(this.bundlesMsg('bundles'));
    for (const [c, sels] of this.diCalls) this.writeEntries(c, sels);
    for (const c of this.diBundleCalls) c.write(this.bundlesMsg('ca_certificates'));
  }

  /** Ends every stream with a status (PERMISSION_DENIED etc.). */
  failAll(code: grpc.status, details: string): void {
    for (const set of [this.svidCalls, this.bundleCalls, this.diBundleCalls]) for (const c of set) c.emit('error', { code, details });
    for (const c of this.diCalls.keys()) c.emit('error', { code, details });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.forceShutdown();
    this.svidCalls.clear();
    this.bundleCalls.clear();
    this.diCalls.clear();
    this.diBundleCalls.clear();
  }

  private chainDer(s: FakeSvid): Buffer {
    return Buffer.concat([s.leaf.certDer, ...(s.intermediates ?? []).map((i) => i.certDer)]);
  }

  private bundleDer(td: string): Buffer {
    return Buffer.concat((this.bundles.get(td) ?? []).map((r) => r.certDer));
  }

  private writeSvids(call: Call): void {
    const corrupt = this.corruptNext;
    this.corruptNext = undefined;
    call.write({
      svids: this.workload.map((s) => ({
        spiffe_id: s.id,
        x509_svid: this.chainDer(s),
        x509_svid_key: corrupt ? corrupt.keyDer : s.leaf.keyDer,
        bundle: this.bundleDer(s.id.slice('spiffe://'.length).split('/')[0]!),
        hint: '',
      })),
      crl: [],
      federated_bundles: {},
    });
  }

  private bundlesMsg(field: 'bundles' | 'ca_certificates'): object {
    const map: Record<string, Buffer> = {};
    for (const td of this.bundles.keys()) map[`spiffe://${td}`] = this.bundleDer(td);
    return field === 'bundles' ? { crl: [], bundles: map } : { ca_certificates: map };
  }

  private writeEntries(call: Call, sels: string): void {
    const list = this.entries.get(sels) ?? [];
    call.write({
      x509_svids: list.map((s) => {
        const rest = s.id.slice('spiffe://'.length);
        const slash = rest.indexOf('/');
        return {
          x509_svid: {
            cert_chain: [s.leaf.certDer, ...(s.intermediates ?? []).map((i) => i.certDer)],
            id: { trust_domain: rest.slice(0, slash), path: rest.slice(slash) },
            expires_at: String(Math.floor(new Date(s.leaf.cert.validTo).getTime() / 1000)),
            hint: '',
          },
          x509_svid_key: s.leaf.keyDer,
        };
      }),
      federates_with: [],
    });
  }
}
