import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { EphemeralServerExecutable } from '@temporalio/testing';

interface EmbeddedServerOptions {
  executable: EphemeralServerExecutable;
  /** SQLite file; the incident history survives restarts because it lives here. */
  dbFilename?: string;
  host?: string;
  port?: number;
  uiPort?: number;
}

export interface EmbeddedServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

/** Starts the Temporal CLI's dev server (with its Web UI when a port is given) through the SDK's launcher. */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  if (options.dbFilename) mkdirSync(path.dirname(options.dbFilename), { recursive: true });
  const host = options.host ?? '127.0.0.1';
  const environment = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: options.executable,
      ip: host,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
      ...(options.uiPort !== undefined ? { ui: true, uiPort: options.uiPort } : { ui: false }),
      log: { format: 'json', level: 'warn' },
    },
  });
  return {
    address: environment.address,
    ...(options.uiPort !== undefined ? { uiUrl: `http://${host}:${options.uiPort}` } : {}),
    stop: () => environment.teardown(),
  };
}
