import { Client, Connection, isGrpcServiceError, type ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_NAMESPACE = 'default';

export interface TemporalClientOptions {
  /** Used when neither TEMPORAL_ADDRESS nor a profile names an address. */
  defaultAddress?: string;
  /** How long `connectTemporal` waits for the server before giving up. */
  connectTimeoutMs?: number;
}

export interface TemporalConnection {
  client: Client;
  connection: Connection;
  namespace: string;
  /** Where the connection points, for error messages. */
  address: string;
}

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

interface ResolvedSettings {
  options: ConnectionOptions;
  namespace: string;
  address: string;
}

function resolveSettings(env: NodeJS.ProcessEnv, options: TemporalClientOptions): ResolvedSettings {
  const definedEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) definedEnv[key] = value;
  }
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars: definedEnv });
  const address = connectionOptions.address ?? options.defaultAddress ?? DEFAULT_TEMPORAL_ADDRESS;
  return {
    address,
    namespace: namespace ?? DEFAULT_NAMESPACE,
    options: {
      address,
      ...(connectionOptions.tls !== undefined ? { tls: connectionOptions.tls } : {}),
      ...(connectionOptions.apiKey !== undefined ? { apiKey: connectionOptions.apiKey } : {}),
      ...(connectionOptions.metadata !== undefined ? { metadata: connectionOptions.metadata } : {}),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeout: options.connectTimeoutMs } : {}),
    },
  };
}

/**
 * Connects to Temporal as the environment describes it (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_TLS*`,
 * `TEMPORAL_API_KEY`, `TEMPORAL_PROFILE` and the Temporal CLI's config file), failing fast when it is unreachable.
 *
 * @example
 * const { client, connection } = await connectTemporal(process.env);
 * try {
 *   console.log(await getIncidentState(client, 'mx1'));
 * } finally {
 *   await connection.close();
 * }
 */
export async function connectTemporal(
  env: NodeJS.ProcessEnv,
  options: TemporalClientOptions = {},
): Promise<TemporalConnection> {
  const settings = resolveSettings(env, options);
  let connection: Connection;
  try {
    connection = await Connection.connect(settings.options);
  } catch (error) {
    throw new TemporalUnreachableError(settings.address, { cause: error });
  }
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    connection,
    namespace: settings.namespace,
    address: settings.address,
  };
}

/**
 * Like {@link connectTemporal}, but connects on the first call, so a long-running process (the webhook) can start
 * while Temporal is down and answer 503 until it is back.
 *
 * @example const { client } = lazyTemporal(process.env, { defaultAddress: '127.0.0.1:7233' });
 */
export function lazyTemporal(env: NodeJS.ProcessEnv, options: TemporalClientOptions = {}): TemporalConnection {
  const settings = resolveSettings(env, options);
  const connection = Connection.lazy(settings.options);
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    connection,
    namespace: settings.namespace,
    address: settings.address,
  };
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
