// What a tree-model parser returns: the flat forest, how its scores become outputs, and the library version
// that wrote the file (recorded in the manifest).
import type { Forest } from './forest.ts';
import type { TreeHead } from './tree-head.ts';

export interface ParsedTrees {
  forest: Forest;
  head: TreeHead;
  /** The writing library's version as the file states it ("2.0.3", "v4"). */
  version: string;
}
