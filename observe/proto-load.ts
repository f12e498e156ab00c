/**
 * Loads Tendril's Hubble-compatible protos (observe/proto/*.proto) with @grpc/proto-loader.
 * Options: proto field names kept as written (`IP`, `Type`, `Summary`), enums as names, 64-bit
 * integers as JS numbers, repeated fields as arrays, oneof discriminators present.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TendrilError } from '../core/index.js';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  enums: String,
  longs: Number,
  defaults: false,
  arrays: true,
  oneofs: true,
};

/** Directory holding the .proto files, from source (observe/) or a build (dist/observe/). */
export function protoDir(): string {
  const here = fileURLToPath(new URL('./proto', import.meta.url));
  if (existsSync(join(here, 'observer.proto'))) return here;
  const fromDist = fileURLToPath(new URL('../../observe/proto', import.meta.url));
  if (existsSync(join(fromDist, 'observer.proto'))) return fromDist;
  throw new TendrilError('TND_INTERNAL_BUG', `BUG: observe/proto/observer.proto not found (looked in ${here} and ${fromDist})`);
}

/** The service constructors a server or client needs. */
export interface HubbleGrpc {
  Observer: grpc.ServiceClientConstructor;
  Health: grpc.ServiceClientConstructor;
  Peer: grpc.ServiceClientConstructor;
}

let cached: HubbleGrpc | undefined;

/** Loads (once) and returns the Observer, Health and Peer service definitions. */
export function loadHubbleGrpc(): HubbleGrpc {
  if (cached) return cached;
  const dir = protoDir();
  const def = protoLoader.loadSync(['observer.proto', 'health.proto', 'peer.proto'], { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    observer: { Observer: grpc.ServiceClientConstructor };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    peer: { Peer: grpc.ServiceClientConstructor };
  };
  cached = { Observer: pkg.observer.Observer, Health: pkg.grpc.health.v1.Health, Peer: pkg.peer.Peer };
  return cached;
}
