import path from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { MailmendConfig } from '../config/schema';
import { startEmbeddedServer, type EmbeddedServer } from './dev-server';
import { resolveTemporalCli } from './temporal-cli/resolve';

export interface TemporalTarget {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
  /** Set when mailmend started its own dev server; stopping it is then ours to do. */
  embedded?: EmbeddedServer;
}

/** Reads the cluster settings from `@temporalio/envconfig`: TEMPORAL_ADDRESS, namespace, TLS, API key, profiles. */
export function externalTarget(env: NodeJS.ProcessEnv): TemporalTarget {
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars: stringEnv(env) });
  return { connectionOptions, namespace: namespace ?? 'default' };
}

/**
 * With TEMPORAL_ADDRESS set, that cluster is used. Otherwise the embedded dev server starts, persisting to SQLite
 * under the configured data directory, with its Web UI.
 */
export async function resolveTemporalTarget(
  env: NodeJS.ProcessEnv,
  config: MailmendConfig,
  baseDir: string,
  onProgress: (line: string) => void,
): Promise<TemporalTarget> {
  if (env.TEMPORAL_ADDRESS) return externalTarget(env);
  const { executable, origin } = await resolveTemporalCli({ env, onProgress });
  onProgress(`Temporal CLI from ${origin}${executable.type === 'existing-path' ? `: ${executable.path}` : ''}`);
  const embedded = await startEmbeddedServer({
    executable,
    dbFilename: path.resolve(baseDir, config.temporal.dataDir, 'temporal.sqlite'),
    host: config.temporal.host,
    port: config.temporal.port,
    uiPort: config.temporal.uiPort,
  });
  return { connectionOptions: { address: embedded.address }, namespace: 'default', embedded };
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
