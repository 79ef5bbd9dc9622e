import type { z } from 'zod';
import { closestName } from '../platform/closest-name';
import { describeSchemaIssue } from '../platform/schema-issues';

type SchemaNode = z.core.$ZodType;

/** Wrappers whose inner schema holds the keys: optional, default, prefault and the like. */
const WRAPPED_BY = ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'];

/** The object schemas `node` may be once its wrappers are unwrapped: one, or each option of a union. */
function objectsIn(node: SchemaNode): SchemaNode[] {
  const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'object') return [node];
  if (WRAPPED_BY.includes(def.type)) return objectsIn(def.innerType as SchemaNode);
  if (def.type === 'pipe') return objectsIn(def.in as SchemaNode);
  if (def.type === 'union') return (def.options as SchemaNode[]).flatMap(objectsIn);
  return [];
}

function childrenAt(node: SchemaNode, segment: PropertyKey): SchemaNode[] {
  const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
  if (WRAPPED_BY.includes(def.type)) return childrenAt(def.innerType as SchemaNode, segment);
  if (def.type === 'pipe') return childrenAt(def.in as SchemaNode, segment);
  if (def.type === 'union') return (def.options as SchemaNode[]).flatMap((option) => childrenAt(option, segment));
  if (def.type === 'array') return typeof segment === 'number' ? [def.element as SchemaNode] : [];
  if (def.type === 'object') {
    const child = (def.shape as Record<string, SchemaNode>)[String(segment)];
    return child ? [child] : [];
  }
  return [];
}

/** Every key the schema allows in the object at `path`. */
export function knownKeysAt(schema: SchemaNode, path: readonly PropertyKey[]): string[] {
  let nodes = [schema];
  for (const segment of path) nodes = nodes.flatMap((node) => childrenAt(node, segment));
  const keys = nodes
    .flatMap(objectsIn)
    .flatMap((object) => Object.keys((object._zod.def as unknown as { shape: object }).shape));
  return [...new Set(keys)];
}

/**
 * Like {@link describeSchemaIssue}, but an unknown key gets a line of its own that names the key and, when one is
 * close, the key that was probably meant.
 *
 * @example describeConfigIssues(schema, issue) // ['policies.updateIntervall: unknown key; did you mean "updateInterval"?']
 */
export function describeConfigIssue(schema: SchemaNode, issue: z.core.$ZodIssue): string[] {
  const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : unknownToEveryOption(issue);
  if (unknownKeys.length === 0) return [describeSchemaIssue(issue)];
  const known = knownKeysAt(schema, issue.path);
  return unknownKeys.map((key) => {
    const described = describeSchemaIssue({ ...issue, path: [...issue.path, key], message: 'unknown key' });
    const meant = closestName(key, known);
    return meant === undefined ? described : `${described}; did you mean "${meant}"?`;
  });
}

/** A value no option of a union accepts because of a key none of them knows, such as `{ enb: VAR }` for a secret. */
function unknownToEveryOption(issue: z.core.$ZodIssue): string[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [];
  const perOption = issue.errors.map(
    (optionIssues) =>
      new Set(
        optionIssues.flatMap((optionIssue) =>
          optionIssue.code === 'unrecognized_keys' && optionIssue.path.length === 0 ? optionIssue.keys : [],
        ),
      ),
  );
  const [first = new Set<string>(), ...others] = perOption;
  return [...first].filter((key) => others.every((keys) => keys.has(key)));
}
