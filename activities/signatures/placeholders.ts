// Filling `{name}` placeholders of a signature from what a log line captured. Log text is written by whoever can make
// a daemon log something, so a captured value reaches an argv only after it passes the check its name calls for.

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const SAFE_PATH = /^\/[A-Za-z0-9._/@+,=-]{0,4095}$/;
const SAFE_WORD = /^[A-Za-z0-9][A-Za-z0-9._@:+=,%-]{0,127}$/;
const MAX_TEXT = 240;

/** Values a signature may use without capturing them: where things live on this host. */
export const HOST_PLACEHOLDERS = ['queueDirectory', 'postfixConfigDir', 'dovecotConfig', 'mailDir'] as const;

export type Placeholders = Readonly<Record<string, string | undefined>>;

/** The names in `{name}` placeholders of a template, in order. */
export function placeholderNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1] ?? '');
}

/** The named groups of a regular expression's source. */
export function namedGroups(pattern: RegExp): string[] {
  return [...pattern.source.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((match) => match[1] ?? '');
}

/** An absolute path of plain characters, without `..`: safe to pass as one argv element. */
export function safePath(value: string): string | undefined {
  const path = value.trim();
  if (!SAFE_PATH.test(path) || path.split('/').includes('..')) return undefined;
  return path;
}

/** A TCP port number. */
export function safePort(value: string): number | undefined {
  if (!/^\d{1,5}$/.test(value.trim())) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** A process id. */
export function safePid(value: string): number | undefined {
  if (!/^\d{1,10}$/.test(value.trim())) return undefined;
  const pid = Number(value);
  return pid > 0 ? pid : undefined;
}

/** The check a captured value must pass to become part of an argv, chosen by its placeholder's name. */
function argvValue(name: string, value: string): string | undefined {
  if (/port$/i.test(name)) return safePort(value)?.toString();
  if (/pid$/i.test(name)) return safePid(value)?.toString();
  if (/^line$/i.test(name)) return /^\d{1,9}$/.test(value) ? value : undefined;
  if (/(path|file|dir|directory|mount|config)$/i.test(name)) return safePath(value);
  return SAFE_WORD.test(value) ? value : undefined;
}

/** Words for people: the captured text without control characters, cut to a readable length. */
function textValue(value: string): string {
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT)}…` : clean;
}

/** A sentence with its placeholders filled; a value nobody captured reads as `unknown`. */
export function fillText(template: string, values: Placeholders): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const value = values[name];
    return value === undefined || value === '' ? 'unknown' : textValue(value);
  });
}

/**
 * An argv with its placeholders filled, or undefined when a value is missing or fails its check, so a suggested
 * command is shown whole or not at all.
 *
 * @example fillArgv(['ss', '-ltnp', 'sport = :{port}'], { port: '25' }) // ['ss', '-ltnp', 'sport = :25']
 */
export function fillArgv(template: readonly string[], values: Placeholders): string[] | undefined {
  const argv: string[] = [];
  for (const part of template) {
    let rejected = false;
    const filled = part.replace(PLACEHOLDER, (_, name: string) => {
      const value = values[name];
      const checked = value === undefined ? undefined : argvValue(name, value);
      if (checked === undefined) rejected = true;
      return checked ?? '';
    });
    if (rejected) return undefined;
    argv.push(filled);
  }
  return argv;
}
