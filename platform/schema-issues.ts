import type { z } from 'zod';

/**
 * One schema problem as `path: message`, with array indexes in brackets, so whoever wrote the document sees which
 * field is wrong.
 *
 * @example describeSchemaIssue(issue) // 'servers[0].smtp.port: Too small: expected number to be >0'
 */
export function describeSchemaIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path
    .map((part) => (typeof part === 'number' ? `[${part}]` : String(part)))
    .join('.')
    .replace(/\.\[/g, '[');
  return `${key || '(top level)'}: ${issue.message}`;
}
