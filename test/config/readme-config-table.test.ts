import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { configSchema } from '../../config/schema';

type AnySchema = z.core.$ZodType;

/** The object inside the wrappers a key's schema may have: optional, default, prefault, arrays of objects. */
function objectShape(schema: AnySchema): Record<string, AnySchema> | undefined {
  const def = schema._zod.def as unknown as {
    type: string;
    shape?: Record<string, AnySchema>;
    innerType?: AnySchema;
    element?: AnySchema;
    in?: AnySchema;
  };
  if (def.type === 'object') return def.shape;
  const inner = def.innerType ?? def.element ?? def.in;
  return inner ? objectShape(inner) : undefined;
}

/** Every key path the README should explain: top-level keys, and the keys of the settings groups. */
function documentedGroups(): Map<string, string[]> {
  const top = objectShape(configSchema) ?? {};
  const groups = new Map<string, string[]>([['', Object.keys(top)]]);
  for (const group of ['temporal', 'webhook', 'policies'] as const) {
    groups.set(`${group}.`, Object.keys(objectShape(top[group] as AnySchema) ?? {}));
  }
  const server = objectShape(top.servers as AnySchema) ?? {};
  groups.set('servers[].', Object.keys(server));
  groups.set('servers[].host.', Object.keys(objectShape(server.host as AnySchema) ?? {}));
  return groups;
}

/** The first column of the README's configuration table, with `a.b`, `.c` shorthand expanded to `a.b`, `a.c`. */
function keysInReadme(): Set<string> {
  const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.split('## Configuration reference')[1]?.split('\n## ')[0] ?? '';
  const keys = new Set<string>();
  for (const row of section.split('\n').filter((line) => line.startsWith('| `'))) {
    const names = [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
    let base = '';
    for (const name of names) {
      const full = name.startsWith('.') ? `${base}${name}` : name;
      base = full.slice(0, full.lastIndexOf('.'));
      keys.add(full);
    }
  }
  return keys;
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('the README configuration table', () => {
  const documented = keysInReadme();

  test.each([...documentedGroups()])('explains every key under "%s"', (prefix, keys) => {
    const missing = keys.filter(
      (key) => ![...documented].some((name) => new RegExp(`^${escaped(`${prefix}${key}`)}($|[.[])`).test(name)),
    );
    expect(missing).toEqual([]);
  });
});
