import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** A host port a service publishes, and the container port it forwards to. */
export interface PublishedPort {
  published: number;
  target: number;
}

/** One service of a compose file, each setting in one form whichever of the file's syntaxes it was written in. */
export interface ComposeService {
  name: string;
  image: string;
  /** Values as the container gets them when none of the variables they refer to are set. */
  environment: Record<string, string>;
  ports: PublishedPort[];
  /** Each service this one waits for, and the condition it waits on. */
  dependsOn: Record<string, string>;
  /** The healthcheck's command, with its CMD or CMD-SHELL marker; undefined without a healthcheck. */
  healthcheck?: string[];
  /** `command`, as one string when the file gives a list. */
  command: string;
  restart?: string;
  /** Where each volume or bind mount appears in the container. */
  mountTargets: string[];
}

/**
 * The services of a compose file, read as Docker Compose reads it (anchors and `<<` merge keys resolved). Throws on a
 * syntax it does not know, rather than let a check pass on a setting it misread.
 */
export function loadComposeServices(file: string): Map<string, ComposeService> {
  const document: unknown = parse(readFileSync(file, 'utf8'), { merge: true });
  const services = asRecord(asRecord(document, file).services, `${file}: services`);
  return new Map(Object.entries(services).map(([name, raw]) => [name, composeService(name, asRecord(raw, name))]));
}

function composeService(name: string, raw: Record<string, unknown>): ComposeService {
  const healthcheck = raw.healthcheck === undefined ? undefined : asRecord(raw.healthcheck, `${name}.healthcheck`);
  return {
    name,
    image: String(raw.image ?? ''),
    environment: environmentOf(name, raw.environment),
    ports: asList(raw.ports ?? [], `${name}.ports`).map((port) => publishedPort(name, port)),
    dependsOn: dependenciesOf(name, raw.depends_on),
    healthcheck: healthcheck && commandList(healthcheck.test),
    command: commandList(raw.command ?? []).join(' '),
    restart: raw.restart === undefined ? undefined : String(raw.restart),
    mountTargets: asList(raw.volumes ?? [], `${name}.volumes`).map((volume) => mountTarget(name, volume)),
  };
}

function environmentOf(service: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  const entries = Array.isArray(raw)
    ? raw.map((entry): [string, string] => {
        const [key = '', ...value] = String(entry).split('=');
        return [key, value.join('=')];
      })
    : Object.entries(asRecord(raw, `${service}.environment`)).map(([key, value]): [string, string] => [
        key,
        value === null ? '' : String(value),
      ]);
  return Object.fromEntries(entries.map(([key, value]) => [key, withVariablesUnset(value)]));
}

/**
 * A value after Compose's interpolation with none of its variables set: `${NAME:-default}` and `${NAME-default}` give
 * the default, `${NAME}` and `$NAME` nothing, and `$$` a literal `$`.
 */
export function withVariablesUnset(value: string): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g, (match, _braced, fallback: string | undefined) =>
    match === '$$' ? '$' : (fallback ?? ''),
  );
}

function publishedPort(service: string, raw: unknown): PublishedPort {
  if (typeof raw === 'object' && raw !== null) {
    const { published, target } = raw as { published?: unknown; target?: unknown };
    return { published: portNumber(service, published), target: portNumber(service, target) };
  }
  const fields = String(raw)
    .replace(/\/(tcp|udp)$/, '')
    .split(':');
  if (fields.length < 2) throw new Error(`${service}: port "${String(raw)}" publishes no fixed host port`);
  return { published: portNumber(service, fields.at(-2)), target: portNumber(service, fields.at(-1)) };
}

function portNumber(service: string, raw: unknown): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${service}: "${String(raw)}" is not a single port`);
  }
  return port;
}

function dependenciesOf(service: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((name) => [String(name), 'service_started']));
  return Object.fromEntries(
    Object.entries(asRecord(raw, `${service}.depends_on`)).map(([name, options]) => [
      name,
      String(asRecord(options, `${service}.depends_on.${name}`).condition ?? 'service_started'),
    ]),
  );
}

function commandList(raw: unknown): string[] {
  return Array.isArray(raw) ? raw.map(String) : ['CMD-SHELL', String(raw)];
}

function mountTarget(service: string, raw: unknown): string {
  if (typeof raw === 'object' && raw !== null) return String((raw as { target?: unknown }).target);
  const [source, target] = String(raw).split(':');
  if (!source) throw new Error(`${service}: volume "${String(raw)}" has no source`);
  return target ?? source;
}

/** `repository` and `tag` of an image reference; the tag is undefined when the reference has none. */
export function imageReference(image: string): { repository: string; tag?: string } {
  const colon = image.lastIndexOf(':');
  if (colon <= image.lastIndexOf('/')) return { repository: image };
  return { repository: image.slice(0, colon), tag: image.slice(colon + 1) };
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} is not a mapping`);
  return value as Record<string, unknown>;
}

function asList(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where} is not a list`);
  return value;
}
