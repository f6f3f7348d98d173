// Owns: bundles, the immutable `name:version` unit a service ships as (like BentoML's Bento): building one from a
// project (`tiffin build`), the BundleStore they live in, bundle.yaml, and opening one to serve it.
// Knows nothing about: HTTP (the CLI serves what open-bundle returns), image builders (src/container).
export { BUNDLE_LAYOUT, buildBundle } from './build.ts';
export type { BuildOptions } from './build.ts';
export { BUNDLE_KIND, BundleStore, defaultBundleRoot } from './bundle-store.ts';
export { BUNDLE_EXTENSION, BUNDLE_FILE, BUNDLE_SCHEMA_VERSION, parseBundleManifest, validateBundleManifest } from './manifest.ts';
export type { BundleManifest, PinnedModel } from './manifest.ts';
export { checkBundle, findBundle, linkDependencies } from './open-bundle.ts';
export type { OpenedBundle } from './open-bundle.ts';
