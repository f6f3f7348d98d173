// The seam between the remote layer and the stores it ships: a store that can describe, export and import its
// versions as one archive file. Models implement it (model-archive-store.ts); bundles (src/bundle) do the same.

/** One version of a stored thing, as the bucket records it. `size` is the unpacked size in bytes. */
export interface ArchivedVersion {
  name: string;
  version: string;
  createdAt: string;
  labels: Record<string, string>;
  size: number;
}

export interface ArchiveStore {
  /** The key segment in the bucket: `<prefix>/<kind>/<name>/<version>/...`. */
  readonly kind: 'models' | 'bundles';
  /** Extension of the archive file, such as '.tiffinmodel' or '.tiffinbundle'. */
  readonly extension: string;
  /** Resolves a local tag (a bare name or `name:latest` is the newest version). */
  describe(tag: string): Promise<ArchivedVersion>;
  has(name: string, version: string): Promise<boolean>;
  /** Writes the version as one archive file; refuses a version whose files no longer match its manifest. */
  exportTo(tag: string, file: string): Promise<ArchivedVersion>;
  /** Verifies the archive and publishes the version atomically (an existing version is refused unless force). */
  importFrom(file: string, options: { force?: boolean; expect?: { name: string; version: string } }): Promise<ArchivedVersion>;
}

/** The archive as version.json records it: where it is and what its bytes hash to. */
export interface ArchiveObject {
  key: string;
  sha256: string;
  bytes: number;
}

/**
 * `<prefix>/<kind>/<name>/<version>/version.json`, written after the archive: a version exists remotely exactly
 * when this object does, so an interrupted push leaves nothing visible.
 */
export interface RemoteVersion extends ArchivedVersion {
  /** Layout version of version.json; a newer one is refused with a hint to upgrade. */
  formatVersion: number;
  kind: 'models' | 'bundles';
  pushedAt: string;
  archive: ArchiveObject;
}

/** Bytes moved so far and the total (0 when unknown), for a progress line. */
export type ProgressCallback = (done: number, total: number) => void;
