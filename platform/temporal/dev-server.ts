import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { findDevServerPid } from './dev-server-process';

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
  /** The `temporal server start-dev` process, when /proc shows it (Linux). */
  pid?: number;
  /** True when the server answers a gRPC health check within `timeoutMs`. */
  isServing(timeoutMs: number): Promise<boolean>;
  /** Stops this server if it still runs, then starts another on the same address, database file and UI port. */
  restart(): Promise<EmbeddedServer>;
  stop(): Promise<void>;
}

/** A port the dev server needs is held by another process; the SDK's launcher would mistake that for our server. */
export class PortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(`${host}:${port} is in use by another process, so the embedded Temporal server cannot listen there`, options);
    this.name = 'PortInUseError';
  }
}

/**
 * The search attributes every incident upserts, registered as Keyword when the server starts: a workflow that
 * upserts an unregistered one fails its task. The same names as workflows/search-attributes.ts, which platform code
 * may not import; a test holds the two lists equal.
 */
export const INCIDENT_KEYWORD_ATTRIBUTES = [
  'MailServerId',
  'IncidentPhase',
  'IncidentSeverity',
  'PendingAction',
] as const;

/** `temporal server start-dev` arguments that register each incident search attribute as a Keyword. */
export function searchAttributeArgs(): string[] {
  return INCIDENT_KEYWORD_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]);
}

/** Starts the Temporal CLI's dev server (with its Web UI when a port is given) through the SDK's launcher. */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  if (options.dbFilename) mkdirSync(path.dirname(options.dbFilename), { recursive: true });
  const host = options.host ?? '127.0.0.1';
  for (const port of [options.port, options.uiPort]) if (port !== undefined) await assertPortFree(host, port);
  const environment = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: options.executable,
      ip: host,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
      ...(options.uiPort !== undefined ? { ui: true, uiPort: options.uiPort } : { ui: false }),
      log: { format: 'json', level: 'warn' },
      extraArgs: searchAttributeArgs(),
    },
  });
  const port = Number(environment.address.slice(environment.address.lastIndexOf(':') + 1));
  const pid = findDevServerPid({ port });
  // Idempotent: a restart stops the old server first, and shutdown may stop it again.
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= environment.teardown());
  return {
    address: environment.address,
    ...(options.uiPort !== undefined ? { uiUrl: `http://${host}:${options.uiPort}` } : {}),
    ...(pid !== undefined ? { pid } : {}),
    isServing: (timeoutMs) => answersHealthCheck(environment, timeoutMs),
    restart: async () => {
      await stop();
      return startEmbeddedServer({ ...options, port });
    },
    stop,
  };
}

async function answersHealthCheck(environment: TestWorkflowEnvironment, timeoutMs: number): Promise<boolean> {
  const { connection } = environment;
  // The SDK's retry interceptor can outlast the gRPC deadline, so the timer has the last word.
  const check = connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const response = await Promise.race([check, timedOut]);
    // 1 is SERVING in grpc.health.v1.
    return response?.status === 1;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    check.catch(() => undefined);
  }
}

async function assertPortFree(host: string, port: number): Promise<void> {
  const probe = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port, exclusive: true }, resolve);
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(host, port, { cause: error });
    throw error;
  } finally {
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}
