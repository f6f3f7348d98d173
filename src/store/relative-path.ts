// Owns: the rule for file paths inside a version folder (as written in model.yaml and in archives):
// relative, forward slashes, no '.', '..' or empty segments, so a path can never leave its folder.

const MAX_PATH_LENGTH = 1024;

/** What is wrong with `path` as a path inside a version folder, or undefined when it is fine. */
export function relativePathProblem(path: string): string | undefined {
  if (path.length === 0) return 'is empty';
  if (path.length > MAX_PATH_LENGTH) return `is longer than ${MAX_PATH_LENGTH} characters`;
  if (path.includes('\0')) return 'contains a NUL character';
  if (path.includes('\\')) return "contains '\\' (use '/' between folders)";
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute (it must be relative to the version folder)';
  const segments = path.split('/');
  if (segments.includes('..')) return "contains '..' (it must stay inside the version folder)";
  if (segments.some((s) => s === '' || s === '.')) return "has an empty or '.' segment (write it as a/b, not a//b, ./a or a/)";
  return undefined;
}

/** True when `path` climbs out of its folder or is absolute: the signs of a hostile archive rather than a sloppy one. */
export function isEscapingPath(path: string): boolean {
  return path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path) || path.split(/[\\/]/).includes('..');
}
