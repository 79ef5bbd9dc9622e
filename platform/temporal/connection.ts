import { Client, Connection, isGrpcServiceError, type Metadata, type TLSConfig } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnection } from '@temporalio/worker';

import { DEFAULT_NAMESPACE, DEFAULT_TEMPORAL_ADDRESS } from './defaults';

export { DEFAULT_NAMESPACE, DEFAULT_TEMPORAL_ADDRESS } from './defaults';

/** The one description of a Temporal endpoint that the worker, the webhook, the CLI and `npm start` all connect with. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  /** TLS, API key and gRPC metadata from envconfig; never logged. */
  tls?: TLSConfig | boolean | null;
  apiKey?: string;
  metadata?: Metadata;
}

/** The options both the client's and the worker's connections accept. */
type EndpointOptions = Omit<TemporalSettings, 'namespace'>;

/** Raised when the Temporal server cannot be reached; the address is in the message so the operator knows where to look. */
export class TemporalUnreachableError extends Error {
  constructor(
    readonly address: string,
    options?: ErrorOptions,
  ) {
    super(`Temporal is unreachable at ${address}`, options);
    this.name = 'TemporalUnreachableError';
  }
}

/**
 * Reads the cluster from the environment as the Temporal CLI does (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
 * `TEMPORAL_TLS*`, `TEMPORAL_API_KEY`, `TEMPORAL_PROFILE` and the TOML profile file).
 *
 * @example const settings = temporalSettingsFromEnv(process.env, `${config.temporal.host}:${config.temporal.port}`);
 */
export function temporalSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  fallbackAddress = DEFAULT_TEMPORAL_ADDRESS,
): TemporalSettings {
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars: definedEntries(env) });
  return {
    address: connectionOptions.address ?? fallbackAddress,
    namespace: namespace ?? DEFAULT_NAMESPACE,
    ...(connectionOptions.tls !== undefined ? { tls: connectionOptions.tls } : {}),
    ...(connectionOptions.apiKey !== undefined ? { apiKey: connectionOptions.apiKey } : {}),
    ...(connectionOptions.metadata !== undefined ? { metadata: connectionOptions.metadata } : {}),
  };
}

/** A dev server mailmend started itself: plain loopback, default namespace. */
export function localTemporalSettings(address: string): TemporalSettings {
  return { address, namespace: DEFAULT_NAMESPACE };
}

function connectionOptions(settings: TemporalSettings): EndpointOptions {
  const { address, tls, apiKey, metadata } = settings;
  return {
    address,
    ...(tls !== undefined ? { tls } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
  };
}

export interface TemporalClientConnection {
  client: Client;
  connection: Connection;
  namespace: string;
  /** Where the connection points, for error messages. */
  address: string;
  close(): Promise<void>;
}

function clientConnection(settings: TemporalSettings, connection: Connection): TemporalClientConnection {
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    connection,
    namespace: settings.namespace,
    address: settings.address,
    close: () => connection.close(),
  };
}

/**
 * Connects a client, failing fast with {@link TemporalUnreachableError} when Temporal does not answer.
 *
 * @example
 * const temporal = await connectClient(temporalSettingsFromEnv(process.env), { connectTimeoutMs: 5_000 });
 * try {
 *   console.log(await getIncidentState(temporal.client, 'mx1'));
 * } finally {
 *   await temporal.close();
 * }
 */
export async function connectClient(
  settings: TemporalSettings,
  options: { connectTimeoutMs?: number } = {},
): Promise<TemporalClientConnection> {
  try {
    const connection = await Connection.connect({
      ...connectionOptions(settings),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeout: options.connectTimeoutMs } : {}),
    });
    return clientConnection(settings, connection);
  } catch (error) {
    throw new TemporalUnreachableError(settings.address, { cause: error });
  }
}

/**
 * Like {@link connectClient}, but connects on the first call, so a long-running process (the webhook) can start
 * while Temporal is down and answer 503 until it is back.
 */
export function lazyClient(settings: TemporalSettings): TemporalClientConnection {
  return clientConnection(settings, Connection.lazy(connectionOptions(settings)));
}

/** The worker's native connection to the same endpoint. */
export async function connectWorker(settings: TemporalSettings): Promise<NativeConnection> {
  // Loaded here, not at the top: the worker package brings the native core, which the CLI and webhook never need.
  const { NativeConnection: Native } = await import('@temporalio/worker');
  try {
    return await Native.connect(connectionOptions(settings));
  } catch (error) {
    throw new TemporalUnreachableError(settings.address, { cause: error });
  }
}

// gRPC status codes DEADLINE_EXCEEDED and UNAVAILABLE; @grpc/grpc-js is not our dependency, so the numbers are spelled here.
const unavailableCodes = new Set<number>([4, 14]);

/** True when an error, or any error in its cause chain, means Temporal did not answer in time, not that it refused. */
export function isTemporalUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    if (current instanceof TemporalUnreachableError) return true;
    if (isGrpcServiceError(current) && unavailableCodes.has(current.code)) return true;
    // waitForReady rejects with a plain Error when the channel never becomes ready.
    if (/Failed to connect before the deadline/.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}

function definedEntries(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
