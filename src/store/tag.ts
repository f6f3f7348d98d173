// Owns: model names, version names and tags (`name` or `name:version`): the naming rule, parsing and formatting.
import { TiffinError } from '../errors/index.ts';

/** Longest model or version name. */
export const MAX_NAME_LENGTH = 63;
/** The version word that means "the newest version"; it can never name a stored version. */
export const LATEST = 'latest';

const NAME_PATTERN = /^[a-z0-9]([-._a-z0-9]*[a-z0-9])?$/;

/** The naming rule in words, shared by every error that rejects a name. */
export const NAME_RULE =
  `1-${MAX_NAME_LENGTH} characters from a-z, 0-9, '-', '.' and '_', starting and ending with a letter or digit`;

/** A parsed tag. `version` is undefined for a bare name and for `name:latest` (both mean the newest version). */
export interface TagParts {
  name: string;
  version?: string;
}

export function isValidName(value: string): boolean {
  return value.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(value);
}

/** True for a string that may name a stored version (the naming rule, and not `latest`). */
export function isValidVersion(value: string): boolean {
  return isValidName(value) && value !== LATEST;
}

/** Throws INVALID_NAME unless `name` follows the naming rule. */
export function assertValidName(name: string): void {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw new TiffinError('INVALID_NAME', `Invalid model name ${JSON.stringify(name)}: use ${NAME_RULE} (for example "iris" or "resnet-50").`, {
      details: { name, rule: NAME_RULE },
    });
  }
}

/** Throws INVALID_NAME unless `version` follows the naming rule and is not the reserved word `latest`. */
export function assertValidVersion(version: string): void {
  if (version === LATEST) {
    throw new TiffinError('INVALID_NAME', `"${LATEST}" is reserved (it means the newest version) and cannot name a version; pick another version name or leave it out to get a generated one.`, {
      details: { version },
    });
  }
  if (typeof version !== 'string' || !isValidName(version)) {
    throw new TiffinError('INVALID_NAME', `Invalid version ${JSON.stringify(version)}: use ${NAME_RULE} (for example "1.0.0" or "v2").`, {
      details: { version, rule: NAME_RULE },
    });
  }
}

/**
 * Parses `name` or `name:version`. `name:latest` parses as the bare name.
 * Throws INVALID_TAG when the shape is wrong and INVALID_NAME when a part breaks the naming rule.
 */
export function parseTag(tag: string): TagParts {
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new TiffinError('INVALID_TAG', 'A model tag is required: write "name" (newest version) or "name:version".', { details: { tag } });
  }
  const parts = tag.split(':');
  if (parts.length > 2 || parts.some((p) => p.length === 0)) {
    throw new TiffinError('INVALID_TAG', `Invalid tag ${JSON.stringify(tag)}: write "name" (newest version) or "name:version", with one ':' and both sides non-empty.`, {
      details: { tag },
    });
  }
  const [name, version] = parts as [string, string | undefined];
  assertValidName(name);
  if (version === undefined || version === LATEST) return { name };
  assertValidVersion(version);
  return { name, version };
}

/** Formats a tag; without a version it is the bare name (which resolves to the newest version). */
export function formatTag(name: string, version?: string): string;
export function formatTag(parts: TagParts): string;
export function formatTag(nameOrParts: string | TagParts, versionArg?: string): string {
  const { name, version } = typeof nameOrParts === 'string' ? { name: nameOrParts, version: versionArg } : nameOrParts;
  assertValidName(name);
  if (version === undefined) return name;
  assertValidVersion(version);
  return `${name}:${version}`;
}
