// Owns: the tree-ensemble runtimes, `xgboost` (JSON, UBJSON) and `lightgbm` (text): parsing each library's own model
// file into one flat forest and scoring it natively. Knows nothing about: the store's layout, HTTP, runners.
export { xgboostRuntime, lightgbmRuntime, TreeModel, TREE_METHOD } from './tree-runtime.ts';
export { scoreForest, type Forest } from './forest.ts';
export type { TreeHead } from './tree-head.ts';
