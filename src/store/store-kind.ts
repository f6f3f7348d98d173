// What differs between the things a versioned store holds (models, bundles): the manifest file and its format, the
// archive's extension, the noun and the error codes its messages use. Everything else (layout, atomic publish,
// verify, defensive import) is shared, so a bundle gets exactly the guarantees a model has.
import type { ErrorCode } from '../errors/index.ts';
import type { FileEntry } from './manifest.ts';

/** The fields every stored version's manifest has. */
export interface VersionManifest {
  name: string;
  version: string;
  /** ISO 8601. */
  createdAt: string;
  /** Bytes of all listed files together. */
  size: number;
  labels: Record<string, string>;
  files: FileEntry[];
}

export interface StoreKind<M extends VersionManifest> {
  /** 'model' or 'bundle': what messages call one stored thing. */
  noun: string;
  /** The manifest's file name inside each version folder, e.g. model.yaml. */
  manifestFile: string;
  /** Extension of exported archives, e.g. .tiffinmodel. */
  archiveExtension: string;
  /** Parses and validates a manifest (MANIFEST_INVALID on bad content). */
  parse(text: string, source?: string): M;
  stringify(manifest: M): string;
  notFoundCode: ErrorCode;
  existsCode: ErrorCode;
}
