// Owns: `VersionedStore`, the on-disk layout `<root>/<name>/<version>/{<manifest>, files...}` shared by the model
// and bundle stores: atomic writes (staging + rename), lookups by tag, listing, deletion, integrity checks, export
// and import of archives. A StoreKind says what is stored; ModelStore (local-store.ts) adds saving a model.
import { lstat, mkdir, readFile, readdir, rename, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TiffinError, isTiffinError } from '../errors/index.ts';
import { DEFAULT_MAX_IMPORT_BYTES, DEFAULT_MAX_IMPORT_ENTRIES, extractArchive, formatBytes, writeArchive } from './archive.ts';
import { digestFile, writeFileSynced } from './digest.ts';
import { comparePaths, listTree } from './file-tree.ts';
import type { FileEntry } from './manifest.ts';
import { freeBytes, fsyncDir, makeStagingDir, removeDeadStaging, removeQuietly, stagingPath, storeWriteFault } from './staging.ts';
import type { StoreKind, VersionManifest } from './store-kind.ts';
import type { TagParts } from './tag.ts';
import { assertValidName, formatTag, isValidName, isValidVersion, parseTag } from './tag.ts';

export interface VersionedStoreOptions {
  /** Folder holding the versions. */
  root: string;
  /** Most bytes one import may unpack (manifest and files); default 64 GiB ({@link DEFAULT_MAX_IMPORT_BYTES}). */
  maxImportBytes?: number;
  /** Most entries (files and folders) one imported archive may hold; default 100 000 ({@link DEFAULT_MAX_IMPORT_ENTRIES}). */
  maxImportEntries?: number;
}

export interface StoredVersion<M> {
  manifest: M;
  /** The version folder (holds the manifest and the files). */
  dir: string;
}

export interface ListOptions {
  name?: string;
  /** Only versions carrying every one of these labels with these values. */
  labels?: Record<string, string>;
}

export interface DeleteOptions {
  /** Required to delete every version of a bare name. */
  allVersions?: boolean;
}

export interface VerifyReport {
  tag: string;
  ok: boolean;
  problems: string[];
}

export interface ImportOptions {
  /** Replace an existing version with the same tag. */
  force?: boolean;
  /** Store under this tag instead of the archive's: `name` keeps the archive's version, `name:version` sets both. */
  tag?: string;
  /** Overrides the store's maxImportBytes for this import. */
  maxImportBytes?: number;
  /** Overrides the store's maxImportEntries for this import. */
  maxImportEntries?: number;
  /** Refuse (INTEGRITY_MISMATCH) an archive that holds another version than this one, before anything is written. */
  expect?: { name: string; version: string };
}

/** Newest first: createdAt descending, then version descending. */
function newestFirst(a: VersionManifest, b: VersionManifest): number {
  return comparePaths(b.createdAt, a.createdAt) || comparePaths(b.version, a.version);
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** How many times a rename that lost a race with another process is retried. */
const PUBLISH_ATTEMPTS = 10;

/** A store of immutable `name:version` folders, each described by a manifest listing its files' sizes and sha256. */
export class VersionedStore<M extends VersionManifest> {
  /** Absolute path of the store root. */
  readonly root: string;
  readonly maxImportBytes: number;
  readonly maxImportEntries: number;

  constructor(protected readonly kind: StoreKind<M>, options: VersionedStoreOptions) {
    this.root = resolve(options.root);
    this.maxImportBytes = options.maxImportBytes ?? DEFAULT_MAX_IMPORT_BYTES;
    this.maxImportEntries = options.maxImportEntries ?? DEFAULT_MAX_IMPORT_ENTRIES;
  }

  /** The archive extension and the key of this kind (for remote stores). */
  get archiveExtension(): string {
    return this.kind.archiveExtension;
  }

  /** True when `name:version` is stored (a complete version: its manifest is in place). */
  async has(name: string, version: string): Promise<boolean> {
    return lstat(join(this.versionDir(name, version), this.kind.manifestFile)).then(() => true, () => false);
  }

  /** The manifest of a tag (`name` or `name:latest`: the newest version). */
  async describe(tag: string): Promise<M> {
    return (await this.get(tag)).manifest;
  }


  /** Finds a version (`name` or `name:latest` is the newest) and returns its manifest and folder. */
  async get(tag: string): Promise<StoredVersion<M>> {
    const { name, version } = parseTag(tag);
    if (version === undefined) {
      const newest = (await this.versionsOf(name))[0];
      if (!newest) throw await this.notFound({ name });
      return { manifest: newest, dir: this.versionDir(name, newest.version) };
    }
    const dir = this.versionDir(name, version);
    let manifest: M;
    try {
      manifest = await this.readManifest(dir);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') throw await this.notFound({ name, version });
      throw err;
    }
    this.assertMatchesFolder(manifest, name, version);
    return { manifest, dir };
  }

  /** The full `name:version` tag a tag points at now (resolves bare names and `latest`). */
  async resolve(tag: string): Promise<string> {
    const { manifest } = await this.get(tag);
    return formatTag(manifest.name, manifest.version);
  }

  /** Stored versions sorted by name, then newest first. Folders without a valid manifest are left out. */
  async list(options: ListOptions = {}): Promise<M[]> {
    if (options.name !== undefined) assertValidName(options.name);
    const names = options.name !== undefined ? [options.name] : await this.names();
    const out: M[] = [];
    for (const name of names) {
      for (const m of await this.versionsOf(name)) {
        if (options.labels && !Object.entries(options.labels).every(([k, v]) => m.labels[k] === v)) continue;
        out.push(m);
      }
    }
    return out;
  }

  /**
   * Deletes one version (`name:version`), or every version of a name with `{ allVersions: true }`.
   * The folder is first renamed aside (so readers see it or nothing), then removed.
   */
  async delete(tag: string, options: DeleteOptions = {}): Promise<void> {
    return this.mapWriteFaults(`delete ${tag}`, () => this.deleteTag(tag, options));
  }

  private async deleteTag(tag: string, options: DeleteOptions): Promise<void> {
    const { name, version } = parseTag(tag);
    await this.cleanup();
    if (version === undefined && !options.allVersions) {
      throw new TiffinError('INVALID_TAG', `Name a version to delete (for example "${name}:<version>"), or pass allVersions to delete every version of ${name}.`, {
        details: { tag },
      });
    }
    if (version !== undefined && options.allVersions) {
      throw new TiffinError('INVALID_TAG', `allVersions deletes a whole name: pass "${name}", not "${tag}".`, { details: { tag } });
    }
    const target = version === undefined ? join(this.root, name) : this.versionDir(name, version);
    const aside = await stagingPath(this.root, '-deleted');
    try {
      await rename(target, aside);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') throw await this.notFound(version === undefined ? { name } : { name, version });
      throw err;
    }
    await fsyncDir(version === undefined ? this.root : join(this.root, name));
    await removeQuietly(aside);
    if (version !== undefined) await this.removeNameIfEmpty(name);
  }

  /**
   * Re-checks stored versions against their manifests: missing, unexpected or non-regular files, sizes and sha256.
   * No tag: every version in the store (version folders with a broken manifest included); a bare name: all its versions.
   */
  async verify(tag?: string): Promise<VerifyReport[]> {
    let targets: { name: string; version: string }[];
    if (tag === undefined) {
      targets = [];
      for (const name of await this.names()) {
        for (const version of await this.versionFolders(name)) targets.push({ name, version });
      }
    } else {
      const { name, version } = parseTag(tag);
      if (version !== undefined) {
        if (!(await this.subfolders(join(this.root, name))).includes(version)) throw await this.notFound({ name, version });
        targets = [{ name, version }];
      } else {
        const versions = await this.versionFolders(name);
        if (versions.length === 0) throw await this.notFound({ name });
        targets = versions.map((v) => ({ name, version: v }));
      }
    }
    const reports: VerifyReport[] = [];
    for (const t of targets) reports.push(await this.verifyFolder(t.name, t.version));
    return reports;
  }

  /** Writes one version as an archive (gzip tar of the manifest, then the files). Refuses a version that fails verify. */
  async exportTo(tag: string, outFile: string): Promise<M> {
    const { manifest, dir } = await this.get(tag);
    const fullTag = formatTag(manifest.name, manifest.version);
    const report = await this.verifyFolder(manifest.name, manifest.version);
    if (!report.ok) {
      throw new TiffinError('INTEGRITY_MISMATCH', `Cannot export ${fullTag}: its files no longer match ${this.kind.manifestFile} (${report.problems.slice(0, 3).join('; ')}). Run verify, then save it again.`, {
        details: report,
      });
    }
    await writeArchive(dir, [this.kind.manifestFile, ...manifest.files.map((f) => f.path)], resolve(outFile), new Date(manifest.createdAt));
    return manifest;
  }

  /**
   * Adds the version held in an archive written by exportTo. Everything is extracted into staging and checked (paths, entry
   * types, manifest, every file listed and present, sizes and digests) before one rename makes it visible; on any
   * refusal the store is left exactly as it was. Limits: maxImportBytes and maxImportEntries (ARCHIVE_TOO_LARGE), and
   * the disk's free space against what the manifest declares (STORE_NO_SPACE), all checked before any file is written.
   */
  async importFrom(archiveFile: string, options: ImportOptions = {}): Promise<M> {
    return this.mapWriteFaults(`import ${archiveFile}`, () => this.importArchive(archiveFile, options));
  }

  private async importArchive(archiveFile: string, options: ImportOptions): Promise<M> {
    const override: TagParts | undefined = options.tag === undefined ? undefined : parseTag(options.tag);
    const retag = (m: M): M => (override ? { ...m, name: override.name, version: override.version ?? m.version } : m);
    await this.cleanup();
    const staged = await makeStagingDir(this.root);
    try {
      const manifest = retag(await extractArchive(this.kind, resolve(archiveFile), staged, {
        maxImportBytes: options.maxImportBytes ?? this.maxImportBytes,
        maxImportEntries: options.maxImportEntries ?? this.maxImportEntries,
        // Refuse an existing tag, or a version the disk cannot hold, as soon as the manifest is read.
        onManifest: async (m) => {
          const { expect } = options;
          if (expect && (m.name !== expect.name || m.version !== expect.version)) {
            throw new TiffinError('INTEGRITY_MISMATCH', `Refusing ${archiveFile}: it holds ${m.name}:${m.version}, not the expected ${expect.name}:${expect.version}.`, {
              details: { expected: `${expect.name}:${expect.version}`, found: `${m.name}:${m.version}` },
            });
          }
          if (!options.force) await this.assertAbsent(retag(m).name, retag(m).version);
          await this.assertFreeSpace(staged, m.size, `import ${formatTag(retag(m).name, retag(m).version)} from ${archiveFile}`);
        },
      }));
      await this.writeManifestFile(staged, manifest);
      await this.publish(staged, manifest.name, manifest.version, options.force === true);
      return manifest;
    } catch (err) {
      await removeQuietly(staged);
      throw err;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** Runs a write, turning the disk's refusals (full, read-only) into errors that name the store and the fix. */
  protected async mapWriteFaults<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw storeWriteFault(err, this.root, action) ?? err;
    }
  }

  /** Refuses up front what cannot fit (a concurrent writer can still fill the disk: ENOSPC is mapped as well). */
  protected async assertFreeSpace(dir: string, bytes: number, action: string): Promise<void> {
    const free = await freeBytes(dir);
    if (free === undefined || free >= bytes) return;
    throw new TiffinError('STORE_NO_SPACE', `Cannot ${action}: it unpacks to ${formatBytes(bytes)}, but the disk of the ${this.kind.noun} store ${this.root} has only ${formatBytes(free)} free. Nothing was stored; free some space there (or delete unused versions), or point TIFFIN_HOME at a larger disk, then try again.`, {
      details: { root: this.root, needed: bytes, free },
    });
  }

  protected versionDir(name: string, version: string): string {
    return join(this.root, name, version);
  }

  /** Names: folders under the root that follow the naming rule (so `.staging` and strays are ignored). */
  private async names(): Promise<string[]> {
    return (await this.subfolders(this.root)).filter(isValidName).sort(comparePaths);
  }

  private async versionFolders(name: string): Promise<string[]> {
    return (await this.subfolders(join(this.root, name))).filter(isValidVersion).sort(comparePaths);
  }

  private async subfolders(dir: string): Promise<string[]> {
    try {
      return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return [];
      throw err;
    }
  }

  /** Valid versions of a name, newest first; folders without a readable, valid, matching manifest are skipped. */
  private async versionsOf(name: string): Promise<M[]> {
    const out: M[] = [];
    for (const version of await this.versionFolders(name)) {
      try {
        const m = await this.readManifest(this.versionDir(name, version));
        if (m.name === name && m.version === version) out.push(m);
      } catch {
        // Not a (complete) version: invisible to lookups; verify() reports it.
      }
    }
    return out.sort(newestFirst);
  }

  private assertMatchesFolder(manifest: M, name: string, version: string): void {
    if (manifest.name !== name || manifest.version !== version) {
      throw new TiffinError('MANIFEST_INVALID', `${this.versionDir(name, version)}/${this.kind.manifestFile} describes ${manifest.name}:${manifest.version}, not ${name}:${version}; the folder was moved or edited by hand.`, {
        details: { folder: `${name}:${version}`, manifest: `${manifest.name}:${manifest.version}` },
      });
    }
  }

  private async notFound(tag: TagParts): Promise<TiffinError> {
    const wanted = formatTag(tag.name, tag.version);
    const versions = (await this.versionsOf(tag.name)).map((m) => m.version);
    if (versions.length > 0) {
      const shown = versions.slice(0, 10).join(', ') + (versions.length > 10 ? `, ... (${versions.length} in all)` : '');
      return new TiffinError(this.kind.notFoundCode, `No ${this.kind.noun} ${wanted} in ${this.root}. Versions of ${tag.name}, newest first: ${shown}.`, {
        details: { tag: wanted, versions },
      });
    }
    const names: string[] = [];
    for (const n of await this.names()) if ((await this.versionsOf(n)).length > 0) names.push(n);
    const hint = names.length > 0 ? `Known ${this.kind.noun}s: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}.` : 'The store is empty.';
    return new TiffinError(this.kind.notFoundCode, `No ${this.kind.noun} named ${tag.name} in ${this.root}. ${hint}`, { details: { tag: wanted, names } });
  }

  protected async assertAbsent(name: string, version: string): Promise<void> {
    try {
      await lstat(join(this.versionDir(name, version), this.kind.manifestFile));
    } catch {
      return;
    }
    throw this.existsError(name, version);
  }

  protected async writeManifestFile(dir: string, manifest: M): Promise<void> {
    const file = join(dir, this.kind.manifestFile);
    await writeFileSynced(file, this.kind.stringify(manifest));
    await fsyncDir(dir);
  }

  /**
   * Renames the staged folder to `<root>/<name>/<version>`. rename(2) onto a missing path is atomic and fails when
   * the target is a non-empty folder, so of two racing writers exactly one wins. With `force` the current version
   * is renamed aside first, the new one renamed in, and the old one removed (last writer wins).
   */
  protected async publish(staged: string, name: string, version: string, force: boolean): Promise<void> {
    const nameDir = join(this.root, name);
    const target = this.versionDir(name, version);
    for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
      await mkdir(nameDir, { recursive: true });
      let aside: string | undefined;
      if (force) {
        aside = await stagingPath(this.root, '-replaced');
        try {
          await rename(target, aside);
        } catch (err) {
          if (errno(err) !== 'ENOENT') throw err;
          aside = undefined;
        }
      }
      try {
        await rename(staged, target);
      } catch (err) {
        const code = errno(err);
        if (aside) {
          // Put the old version back unless a concurrent writer already filled the slot.
          await rename(aside, target).catch(() => removeQuietly(aside as string));
        }
        if (code === 'ENOENT') continue; // The name folder was deleted under us: recreate it and retry.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          if (force) continue; // Another forced writer got in between: move theirs aside too.
          throw this.existsError(name, version);
        }
        throw err;
      }
      await fsyncDir(nameDir);
      if (aside) await removeQuietly(aside);
      return;
    }
    throw new TiffinError('INTERNAL', `Could not move ${name}:${version} into place after ${PUBLISH_ATTEMPTS} attempts: other processes keep changing it. Try again.`, {
      details: { tag: `${name}:${version}` },
    });
  }

  private async removeNameIfEmpty(name: string): Promise<void> {
    try {
      await rmdir(join(this.root, name));
    } catch {
      // Not empty (another version, or a writer just created it): keep it.
    }
  }

  protected async cleanup(): Promise<void> {
    await removeDeadStaging(this.root);
  }

  private async verifyFolder(name: string, version: string): Promise<VerifyReport> {
    const tag = `${name}:${version}`;
    const dir = this.versionDir(name, version);
    const problems: string[] = [];
    let manifest: M | undefined;
    try {
      manifest = await this.readManifest(dir);
      if (manifest.name !== name || manifest.version !== version) {
        problems.push(`${this.kind.manifestFile} describes ${manifest.name}:${manifest.version}, not the folder's ${tag}`);
      }
    } catch (err) {
      problems.push(errno(err) === 'ENOENT' ? `${this.kind.manifestFile} is missing` : isTiffinError(err) ? err.message : `${this.kind.manifestFile} cannot be read: ${String(err)}`);
    }
    if (manifest) {
      const tree = await listTree(dir);
      const present = new Set(tree.files);
      const listed = new Set(manifest.files.map((f) => f.path));
      for (const other of tree.others) problems.push(`${other.path} is a ${other.kind}, not a regular file`);
      for (const f of manifest.files) {
        if (!present.has(f.path)) {
          problems.push(`${f.path} is missing`);
          continue;
        }
        problems.push(...(await checkFile(join(dir, f.path), f)));
      }
      for (const p of tree.files) {
        if (p !== this.kind.manifestFile && !listed.has(p)) problems.push(`${p} is not listed in ${this.kind.manifestFile} (unexpected file)`);
      }
    }
    return { tag, ok: problems.length === 0, problems };
  }

  private existsError(name: string, version: string): TiffinError {
    return new TiffinError(this.kind.existsCode, `${name}:${version} already exists; pass force to replace it, or choose another version.`, {
      details: { tag: `${name}:${version}` },
    });
  }

  private async readManifest(dir: string): Promise<M> {
    const file = join(dir, this.kind.manifestFile);
    return this.kind.parse(await readFile(file, 'utf8'), file);
  }
}

/**
 * Checks the listed files only (a folder may hold others, such as a bundle's node_modules): each must be a regular
 * file of the listed size and sha256. Returns the problems found, empty when all match.
 */
export async function checkListedFiles(dir: string, files: readonly FileEntry[]): Promise<string[]> {
  const problems: string[] = [];
  for (const f of files) {
    const path = join(dir, ...f.path.split('/'));
    const stat = await lstat(path).catch(() => undefined);
    if (!stat) problems.push(`${f.path} is missing`);
    else if (!stat.isFile()) problems.push(`${f.path} is not a regular file`);
    else problems.push(...(await checkFile(path, f)));
  }
  return problems;
}

/** A wrong size is reported without hashing; otherwise the sha256 is recomputed. */
async function checkFile(path: string, expected: FileEntry): Promise<string[]> {
  const { size } = await lstat(path);
  if (size !== expected.size) return [`${expected.path} has ${size} bytes, expected ${expected.size}`];
  const actual = await digestFile(path);
  if (actual.size !== expected.size) return [`${expected.path} has ${actual.size} bytes, expected ${expected.size}`];
  if (actual.sha256 !== expected.sha256) return [`${expected.path} has sha256 ${actual.sha256}, expected ${expected.sha256}`];
  return [];
}
