/**
 * TLS for the Hubble gRPC server (Observer + Peer), keys as Cilium's Helm values name them
 * (docs/observe.md, "Peers and Hubble Relay"): `hubble.tls.enabled`, `hubble.tls.server.cert`,
 * `hubble.tls.server.key` (PEM files), `hubble.tls.ca.cert` (PEM file of the CA that signs the
 * clients' certificates, e.g. Hubble Relay's). With TLS on, the server requires and verifies a
 * client certificate (mutual TLS), as Cilium's agent does for its relay port.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { TendrilError } from '../core/index.js';

/** `config.hubble.tls`. Paths are absolute after config loading. */
export interface HubbleTlsConfig {
  enabled: boolean;
  server: { cert: string; key: string };
  ca: { cert: string };
}

function readPem(key: string, path: string, kind: RegExp): Buffer {
  if (path === '') throw new TendrilError('TND_OBSERVE_TLS', `hubble.tls.enabled is true but ${key} is not set (a PEM file path)`, { key });
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new TendrilError('TND_OBSERVE_TLS', `${key}: ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { key, file: path }, { cause: err });
  }
  if (!kind.test(data.toString('latin1'))) throw new TendrilError('TND_OBSERVE_TLS', `${key}: ${path}: not a PEM file with a ${kind.source.replace(/\\/g, '')} block`, { key, file: path });
  return data;
}

/**
 * Server credentials from the config: insecure when TLS is off; otherwise the certificate, key
 * and client CA, read now (a missing or unreadable file fails naming its key), client
 * certificates required and verified.
 */
export function serverCredentials(tls: HubbleTlsConfig | undefined): grpc.ServerCredentials {
  if (!tls?.enabled) return grpc.ServerCredentials.createInsecure();
  const cert = readPem('hubble.tls.server.cert', tls.server.cert, /-----BEGIN CERTIFICATE-----/);
  const key = readPem('hubble.tls.server.key', tls.server.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  const ca = readPem('hubble.tls.ca.cert', tls.ca.cert, /-----BEGIN CERTIFICATE-----/);
  try {
    return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true);
  } catch (err) {
    throw new TendrilError('TND_OBSERVE_TLS', `hubble.tls: the certificate, key or CA cannot be used: ${(err as Error).message}`, { key: 'hubble.tls' }, { cause: err });
  }
}

/** Client side (`tendril observe --tls ...`, tests): files as the hubble CLI's --tls-* flags name them. */
export interface ClientTlsOptions {
  /** CA certificates to verify the server with (default: the system roots). */
  caFiles?: string[];
  clientCertFile?: string;
  clientKeyFile?: string;
  /** Name to verify the server certificate against (default: the dialled host). */
  serverName?: string;
}

export function clientCredentials(o: ClientTlsOptions): { creds: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  const read = (flag: string, p: string): Buffer => {
    try {
      return readFileSync(p);
    } catch (err) {
      throw new TendrilError('TND_OBSERVE_TLS', `${flag}: ${p}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: p }, { cause: err });
    }
  };
  const ca = o.caFiles && o.caFiles.length > 0 ? Buffer.concat(o.caFiles.map((f) => read('--tls-ca-cert-files', f))) : null;
  if ((o.clientCertFile === undefined) !== (o.clientKeyFile === undefined)) {
    throw new TendrilError('TND_OBSERVE_TLS', '--tls-client-cert-file and --tls-client-key-file go together');
  }
  const key = o.clientKeyFile ? read('--tls-client-key-file', o.clientKeyFile) : null;
  const cert = o.clientCertFile ? read('--tls-client-cert-file', o.clientCertFile) : null;
  const options: grpc.ChannelOptions = o.serverName ? { 'grpc.ssl_target_name_override': o.serverName, 'grpc.default_authority': o.serverName } : {};
  return { creds: grpc.credentials.createSsl(ca, key, cert), options };
}
