// Owns: the `model.yaml` manifest of one stored model version: its shape, parsing and validation.
import type { TensorSpec } from '../runtime/tensor.ts';

export const MANIFEST_FILE = 'model.yaml';
export const MANIFEST_SCHEMA_VERSION = 1;

export interface Signature {
  /** Whether calls to this method can be grouped into one batch. */
  batchable: boolean;
  /** The dimension along which inputs are stacked and outputs split (usually 0). */
  batchDim: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface FileEntry {
  /** Path relative to the version folder, with forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

export interface ModelManifest {
  schemaVersion: number;
  name: string;
  version: string;
  framework: string;
  frameworkVersion: string;
  /** File the runtime loads, relative to the version folder. */
  entry: string;
  /** ISO 8601 creation time. */
  createdAt: string;
  /** Total bytes of all files. */
  size: number;
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
  signatures: Record<string, Signature>;
  files: FileEntry[];
}
