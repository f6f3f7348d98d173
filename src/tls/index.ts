// Owns: TLS for the HTTP and gRPC servers: a certificate and key read from files, and kept current when the files
// change (cert-manager or a Kubernetes secret rotating them) or on SIGHUP, without a restart or a dropped
// connection: new handshakes get the new certificate, open connections keep theirs.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { experimental as grpcExperimental } from '@grpc/grpc-js';
import { TiffinError, messageOf } from '../errors/index.ts';

export interface TlsFiles {
  /** PEM certificate chain file (the server's certificate first). */
  cert: string;
  /** PEM private key file. */
  key: string;
}

/** How often the files are checked for changes (polling: file watches miss a Kubernetes secret's symlink swap). */
const POLL_MS = 5_000;

/** The key and certificate, read now; a file that cannot be read stops start-up naming it. */
export function readTls(files: TlsFiles): Required<Pick<SecureContextOptions, 'cert' | 'key'>> {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TiffinError('CONFIG_INVALID', `cannot read the TLS ${what} ${path} (server.tls.${what === 'certificate' ? 'cert' : 'key'}): ${messageOf(err)}`, { cause: err });
    }
  };
  return { cert: read(files.cert, 'certificate'), key: read(files.key, 'key') };
}

/** Something that takes a new certificate for new connections (node's tls.Server and https.Server). */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * Reloads `files` into `target` when either file changes and on SIGHUP. A pair that does not load (a half-written
 * rotation, a key that does not match) is reported through `onError` and the previous certificate stays in use.
 * Returns the function that stops watching.
 */
export function watchTls(target: SecureContextTarget, files: TlsFiles, onReload: (error?: unknown) => void): () => void {
  const reload = () => {
    try {
      target.setSecureContext(readTls(files));
      onReload();
    } catch (err) {
      onReload(err);
    }
  };
  const onChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (now.mtimeMs !== before.mtimeMs) reload();
  };
  for (const path of [files.cert, files.key]) watchFile(path, { interval: POLL_MS, persistent: false }, onChange);
  process.on('SIGHUP', reload);
  return () => {
    for (const path of [files.cert, files.key]) unwatchFile(path, onChange);
    process.off('SIGHUP', reload);
  };
}

/** gRPC server credentials from `files`, re-read by grpc-js itself when they change. */
export function grpcTlsCredentials(files: TlsFiles): grpc.ServerCredentials {
  readTls(files); // fail at start-up, naming the file, rather than on the first handshake
  const provider = new grpcExperimental.FileWatcherCertificateProvider({ certificateFile: files.cert, privateKeyFile: files.key, refreshIntervalMs: POLL_MS });
  // grpc-js 1.14 passes its first argument on as the identity provider (its .d.ts names them the other way round);
  // no CA provider: clients are not asked for certificates.
  return grpcExperimental.createCertificateProviderServerCredentials(provider, null, false);
}
