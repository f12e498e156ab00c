/**
 * Tendril's own proto definitions of the SPIFFE Workload API and SPIRE's Delegated Identity API,
 * written from the public field numbers (docs/identity.md "SPIRE APIs"): only the X.509 messages
 * and RPCs Tendril uses. Parsed with protobufjs and handed to @grpc/proto-loader, so client and
 * in-test servers share one definition.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/** The Workload API declares no package: paths are `/SpiffeWorkloadAPI/<Method>`. */
export const WORKLOAD_API_PROTO = `
syntax = "proto3";
message X509SVIDRequest {}
message X509SVID {
  string spiffe_id = 1;
  bytes x509_svid = 2;
  bytes x509_svid_key = 3;
  bytes bundle = 4;
  string hint = 5;
}
message X509SVIDResponse {
  repeated X509SVID svids = 1;
  repeated bytes crl = 2;
  map<string, bytes> federated_bundles = 3;
}
message X509BundlesRequest {}
message X509BundlesResponse {
  repeated bytes crl = 1;
  map<string, bytes> bundles = 2;
}
service SpiffeWorkloadAPI {
  rpc FetchX509SVID(X509SVIDRequest) returns (stream X509SVIDResponse);
  rpc FetchX509Bundles(X509BundlesRequest) returns (stream X509BundlesResponse);
}
`;

export const DELEGATED_IDENTITY_PROTO = `
syntax = "proto3";
package spire.api.types;
message Selector {
  string type = 1;
  string value = 2;
}
message SPIFFEID {
  string trust_domain = 1;
  string path = 2;
}
message X509SVID {
  repeated bytes cert_chain = 1;
  SPIFFEID id = 2;
  int64 expires_at = 3;
  string hint = 4;
}
`;

export const DELEGATED_IDENTITY_SERVICE_PROTO = `
syntax = "proto3";
package spire.api.agent.delegatedidentity.v1;
message X509SVIDWithKey {
  spire.api.types.X509SVID x509_svid = 1;
  bytes x509_svid_key = 2;
}
message SubscribeToX509SVIDsRequest {
  repeated spire.api.types.Selector selectors = 1;
  int32 pid = 2;
}
message SubscribeToX509SVIDsResponse {
  repeated X509SVIDWithKey x509_svids = 1;
  repeated string federates_with = 2;
}
message SubscribeToX509BundlesRequest {}
message SubscribeToX509BundlesResponse {
  map<string, bytes> ca_certificates = 1;
}
service DelegatedIdentity {
  rpc SubscribeToX509SVIDs(SubscribeToX509SVIDsRequest) returns (stream SubscribeToX509SVIDsResponse);
  rpc SubscribeToX509Bundles(SubscribeToX509BundlesRequest) returns (stream SubscribeToX509BundlesResponse);
}
`;

export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, defaults: true, arrays: true };

export interface SpiffeGrpc {
  SpiffeWorkloadAPI: grpc.ServiceClientConstructor;
  DelegatedIdentity: grpc.ServiceClientConstructor;
}

let cached: SpiffeGrpc | undefined;

export function loadSpiffeGrpc(): SpiffeGrpc {
  if (cached) return cached;
  const root = new protobuf.Root();
  for (const text of [WORKLOAD_API_PROTO, DELEGATED_IDENTITY_PROTO, DELEGATED_IDENTITY_SERVICE_PROTO]) {
    protobuf.parse(text, root, { keepCase: true });
  }
  const def = protoLoader.fromJSON(root.toJSON(), LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    SpiffeWorkloadAPI: grpc.ServiceClientConstructor;
    spire: { api: { agent: { delegatedidentity: { v1: { DelegatedIdentity: grpc.ServiceClientConstructor } } } } };
  };
  cached = { SpiffeWorkloadAPI: pkg.SpiffeWorkloadAPI, DelegatedIdentity: pkg.spire.api.agent.delegatedidentity.v1.DelegatedIdentity };
  return cached;
}

/** Wire shapes as proto-loader decodes them (bytes → Buffer, maps → objects, int64 → string). */
export interface WlX509SVID {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}
export interface WlX509SVIDResponse {
  svids: WlX509SVID[];
  crl: Buffer[];
  federated_bundles: Record<string, Buffer>;
}
export interface WlX509BundlesResponse {
  crl: Buffer[];
  bundles: Record<string, Buffer>;
}
export interface DiX509SVIDWithKey {
  x509_svid: { cert_chain: Buffer[]; id: { trust_domain: string; path: string } | null; expires_at: string; hint: string } | null;
  x509_svid_key: Buffer;
}
export interface DiSubscribeToX509SVIDsResponse {
  x509_svids: DiX509SVIDWithKey[];
  federates_with: string[];
}
export interface DiSubscribeToX509BundlesResponse {
  ca_certificates: Record<string, Buffer>;
}
