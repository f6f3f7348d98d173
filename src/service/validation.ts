// Validation failures in one shape for every input kind: VALIDATION_FAILED with the path and message of
// each invalid field, so a client can point at the field and a person can read the message.
import type { z } from 'zod';
import { TiffinError } from '../errors/index.ts';

export type FieldPath = (string | number)[];

export interface ValidationIssue {
  /** Where the problem is, from the body's root: ['features', 2]. Empty for the body as a whole. */
  path: FieldPath;
  message: string;
}

/** `features[2].name`, or `(body)` for the root. */
export function formatPath(path: FieldPath): string {
  if (path.length === 0) return '(body)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `${i === 0 ? '' : '.'}${p}` : `[${JSON.stringify(p)}]`))
    .join('');
}

export function validationError(issues: ValidationIssue[], what = 'the request body'): TiffinError {
  const shown = issues.slice(0, 5).map((i) => `${formatPath(i.path)}: ${i.message}`);
  const more = issues.length > shown.length ? `; and ${issues.length - shown.length} more` : '';
  return new TiffinError('VALIDATION_FAILED', `${what} is invalid: ${shown.join('; ')}${more}`, { details: { issues } });
}

/** Converts zod's issues, prefixing each path (for fields inside a multipart body). */
export function issuesFromZod(error: z.core.$ZodError, prefix: FieldPath = []): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
    message: issue.message,
  }));
}
