import path from 'node:path';
import type { MailmendConfig } from '../config/schema';
import { resolveTemporalCli } from '../platform/temporal/cli/resolve';
import { localTemporalSettings, temporalSettingsFromEnv, type TemporalSettings } from '../platform/temporal/connection';
import { startEmbeddedServer, type EmbeddedServer } from '../platform/temporal/dev-server';

export interface TemporalTarget {
  settings: TemporalSettings;
  /** Set when mailmend started its own dev server; stopping it is then ours to do. */
  embedded?: EmbeddedServer;
}

/**
 * With TEMPORAL_ADDRESS set, that cluster is used, as envconfig describes it. Otherwise the embedded dev server
 * starts, persisting to SQLite under the configured data directory, with its Web UI.
 */
export async function resolveTemporalTarget(
  env: NodeJS.ProcessEnv,
  config: MailmendConfig,
  baseDir: string,
  onProgress: (line: string) => void,
): Promise<TemporalTarget> {
  if (env.TEMPORAL_ADDRESS) return { settings: temporalSettingsFromEnv(env) };
  const { executable, origin } = await resolveTemporalCli({ env, onProgress });
  onProgress(`Temporal CLI from ${origin}${executable.type === 'existing-path' ? `: ${executable.path}` : ''}`);
  const embedded = await startEmbeddedServer({
    executable,
    dbFilename: path.resolve(baseDir, config.temporal.dataDir, 'temporal.sqlite'),
    host: config.temporal.host,
    port: config.temporal.port,
    uiPort: config.temporal.uiPort,
  });
  return { settings: localTemporalSettings(embedded.address), embedded };
}
