// Owns: Tiffin's configuration: the tiffin.yaml schema, TIFFIN_* variables, precedence (flags > env > file > defaults), clear errors.
// Knows nothing about: servers or the CLI (they read a TiffinConfig).
export { loadConfig, readConfigFile, ENV_VARS, CONFIG_FILE_NAMES, DEFAULT_CONFIG, type ConfigOverride, type LoadConfigOptions, type TiffinConfig } from './load.ts';
export { configFileSchema, serverSectionSchema, loggingSectionSchema, protocolsSectionSchema, repositorySectionSchema, LOG_LEVELS, REST_PROTOCOLS, type ConfigFile } from './schema.ts';
export { parseDuration, parseSize } from '../units/index.ts';
export type { BundleSection } from './bundle-section.ts';
