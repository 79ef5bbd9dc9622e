import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, type MailmendConfig, type SecretRef } from './schema';
import { SecretResolver } from './secrets';
import { describeConfigIssue } from './unknown-keys';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(`invalid mailmend config ${source}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`, options);
    this.name = 'ConfigError';
  }
}

/** The config file is not there at all: the first run, before anyone wrote one. */
export class ConfigFileMissingError extends ConfigError {
  constructor(
    readonly file: string,
    options?: ErrorOptions,
  ) {
    super(file, ['the file does not exist'], options);
    this.name = 'ConfigFileMissingError';
  }
}

export interface LoadedConfig {
  config: MailmendConfig;
  /** The directory relative paths in the config are resolved against. */
  baseDir: string;
  secrets: SecretResolver;
}

/** Validates a parsed document; every secret it references must resolve, so a missing one fails at start. */
export function parseConfig(document: unknown, source: string, env: NodeJS.ProcessEnv, baseDir: string): LoadedConfig {
  const parsed = configSchema.safeParse(withServerFiles(document, source, baseDir));
  if (!parsed.success)
    throw new ConfigError(
      source,
      parsed.error.issues.flatMap((issue) => describeConfigIssue(configSchema, issue)),
    );
  const config = withAbsoluteCaFiles(parsed.data, baseDir);
  const secrets = new SecretResolver(env, baseDir);
  const problems: string[] = [];
  for (const [key, ref] of secretReferences(config)) {
    try {
      secrets.resolve(ref);
    } catch (error) {
      problems.push(`${key}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { config, baseDir, secrets };
}

/** A relative `tls.caFile` means beside the config file, as for secret files, not the worker's working directory. */
function withAbsoluteCaFiles(config: MailmendConfig, baseDir: string): MailmendConfig {
  for (const server of config.servers) {
    if (server.tls.caFile !== undefined) server.tls.caFile = path.resolve(baseDir, server.tls.caFile);
  }
  return config;
}

/**
 * Reads and validates the YAML config at `file` (usually `$MAILMEND_CONFIG`).
 *
 * @example const { config } = loadConfigFile(process.env.MAILMEND_CONFIG ?? 'mailmend.yaml', process.env);
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigFileMissingError(file, { cause: error });
    throw new ConfigError(file, [`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`], {
      cause: error,
    });
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid YAML: ${(error as Error).message}`], { cause: error });
  }
  return parseConfig(document, file, env, path.dirname(path.resolve(file)));
}

/** Where the config file is: `$MAILMEND_CONFIG`, or `mailmend.yaml` in the working directory. */
export function configPathFromEnv(env: NodeJS.ProcessEnv): string {
  return env.MAILMEND_CONFIG ?? 'mailmend.yaml';
}

/** Appends the `servers:` of every file in `serverFiles` to the document's own, before validation. */
function withServerFiles(document: unknown, source: string, baseDir: string): unknown {
  if (typeof document !== 'object' || document === null || !('serverFiles' in document)) return document;
  const { serverFiles, servers: ownServers } = document as { serverFiles: unknown; servers?: unknown };
  if (!Array.isArray(serverFiles)) return document;
  const servers: unknown[] = Array.isArray(ownServers) ? [...(ownServers as unknown[])] : [];
  const problems: string[] = [];
  serverFiles.forEach((file, index) => {
    if (typeof file !== 'string') return;
    const resolved = path.resolve(baseDir, file);
    try {
      const included = parseYaml(readFileSync(resolved, 'utf8')) as { servers?: unknown };
      if (!Array.isArray(included?.servers)) throw new Error('it has no `servers:` list');
      servers.push(...included.servers);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      problems.push(`serverFiles[${index}]: cannot use ${resolved}: ${reason}`);
    }
  });
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { ...document, servers };
}

function* secretReferences(config: MailmendConfig): Generator<[string, SecretRef]> {
  if (config.webhook.bearerToken) yield ['webhook.bearerToken', config.webhook.bearerToken];
  if (config.fallbackRelay?.auth) yield ['fallbackRelay.auth.password', config.fallbackRelay.auth.password];
  for (const [index, server] of config.servers.entries()) {
    if (server.ssh) yield [`servers[${index}].ssh.privateKey`, server.ssh.privateKey];
    if (server.canary) yield [`servers[${index}].canary.imapPassword`, server.canary.imapPassword];
  }
  for (const audience of ['itTeam', 'management', 'users'] as const) {
    for (const [index, channel] of config.audiences[audience].channels.entries()) {
      if (channel.type === 'webhook') yield [`audiences.${audience}.channels[${index}].url`, channel.url];
    }
  }
}
