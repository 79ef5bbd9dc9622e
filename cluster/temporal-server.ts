import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { LabCommandError, runCommand, tailFile, waitUntil } from '../lab/processes';
import { LOOPBACK } from '../platform/loopback';
import { DEFAULT_NAMESPACE } from '../platform/temporal/defaults';
import type { TemporalServerBinaries } from '../platform/temporal/server/resolve';
import { ensureKeywordSearchAttributes } from '../platform/temporal/search-attribute-registration';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { daemonEnv } from './daemon-env';
import { assertStillRunning, daemonPid, startDaemon } from './daemons';
import { ClusterServiceError } from './errors';
import { processLogFile, type ClusterLayout, type ClusterPorts } from './layout';
import { TEMPORAL_DATABASE } from './topology';

const READY_TIMEOUT_MS = 90_000;
/** How long closed incidents stay readable in the namespace. */
const RETENTION = '7 days';
const GRPC_ALREADY_EXISTS = 6;

/** The Temporal server of this state dir, when it runs. */
export function temporalServerPid(layout: ClusterLayout): Promise<number | undefined> {
  return daemonPid(layout, 'temporal');
}

type YamlMap = Record<string, Record<string, unknown>>;

function at(document: YamlMap, ...keys: string[]): Record<string, unknown> {
  let node: unknown = document;
  for (const key of keys) {
    node = (node as Record<string, unknown>)[key];
    if (typeof node !== 'object' || node === null)
      throw new Error(`the server config template has no ${keys.join('.')}`);
  }
  return node as Record<string, unknown>;
}

/**
 * The release's own `development-postgres12.yaml` with the cluster's ports: PostgreSQL's, each service's gRPC and
 * membership port, the frontend's HTTP port and the metrics endpoint; pprof off.
 */
export async function writeServerConfig(
  layout: ClusterLayout,
  binaries: TemporalServerBinaries,
  ports: ClusterPorts,
): Promise<void> {
  const document = parseYaml(await readFile(binaries.configTemplate, 'utf8')) as YamlMap;
  for (const store of ['postgres-default', 'postgres-visibility']) {
    Object.assign(at(document, 'persistence', 'datastores', store, 'sql'), {
      connectAddr: `${LOOPBACK}:${ports.postgresql}`,
      user: TEMPORAL_DATABASE.user,
      password: TEMPORAL_DATABASE.password,
    });
  }
  at(document, 'global', 'pprof').port = 0;
  at(document, 'global', 'metrics', 'prometheus').listenAddress = `${LOOPBACK}:${ports.temporalMetrics}`;
  const services = {
    frontend: [ports.frontend, ports.frontendMembership],
    history: [ports.history, ports.historyMembership],
    matching: [ports.matching, ports.matchingMembership],
    worker: [ports.internalWorker, ports.internalWorkerMembership],
  } as const;
  for (const [service, [grpcPort, membershipPort]] of Object.entries(services)) {
    Object.assign(at(document, 'services', service, 'rpc'), { grpcPort, membershipPort });
  }
  at(document, 'services', 'frontend', 'rpc').httpPort = ports.frontendHttp;
  at(document, 'clusterMetadata', 'clusterInformation', 'active').rpcAddress = `${LOOPBACK}:${ports.frontend}`;
  at(document, 'dynamicConfigClient').filepath = layout.dynamicConfigFile;
  await mkdir(layout.temporalConfigDir, { recursive: true });
  await copyFile(binaries.dynamicConfigTemplate, layout.dynamicConfigFile);
  await writeFile(layout.temporalConfigFile, stringifyYaml(document));
}

async function sqlTool(
  binaries: TemporalServerBinaries,
  port: number,
  database: string,
  args: string[],
  layout: ClusterLayout,
) {
  const argv = [
    binaries.sqlTool,
    '--plugin',
    TEMPORAL_DATABASE.plugin,
    '--ep',
    LOOPBACK,
    '-p',
    String(port),
    '-u',
    TEMPORAL_DATABASE.user,
    '--pw',
    TEMPORAL_DATABASE.password,
    '--db',
    database,
    ...args,
  ];
  const result = await runCommand(argv, { timeoutMs: 120_000 });
  if (result.exitCode !== 0) {
    const failure = new LabCommandError(result);
    throw new ClusterServiceError(
      'Temporal schema',
      `could not be applied: ${failure.message}`,
      layout.postgresqlLog,
      await tailFile(layout.postgresqlLog),
      { cause: failure },
    );
  }
}

/**
 * Both databases with the release's schema. Every step may be repeated: `create-database` and `setup-schema` leave
 * what exists, and `update-schema` applies only the versions not yet applied, so a new release migrates on `up`.
 */
export async function applySchema(
  layout: ClusterLayout,
  binaries: TemporalServerBinaries,
  port: number,
): Promise<void> {
  const databases = [
    { name: TEMPORAL_DATABASE.main, versioned: path.join(binaries.postgresSchemaDir, 'temporal', 'versioned') },
    { name: TEMPORAL_DATABASE.visibility, versioned: path.join(binaries.postgresSchemaDir, 'visibility', 'versioned') },
  ];
  for (const { name, versioned } of databases) {
    await sqlTool(binaries, port, name, ['create-database'], layout);
    await sqlTool(binaries, port, name, ['setup-schema', '-v', '0.0'], layout);
    await sqlTool(binaries, port, name, ['update-schema', '-d', versioned], layout);
  }
}

/** Starts every service of the server (frontend, history, matching, worker) in one process. */
export async function startTemporalServer(layout: ClusterLayout, binaries: TemporalServerBinaries): Promise<number> {
  return startDaemon(layout, 'temporal', {
    argv: [
      binaries.server,
      '--root',
      layout.temporalRoot,
      '--config',
      'config',
      '--env',
      'development',
      '--allow-no-auth',
      'start',
    ],
    env: daemonEnv(),
    cwd: layout.temporalRoot,
    marker: binaries.server,
  });
}

/** Whether the frontend answers its gRPC health check with SERVING. */
export async function frontendServing(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2_000 });
    const { status } = await connection.healthService.check({});
    // 1 is SERVING in grpc.health.v1.
    return status === 1;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

/** Waits until the frontend serves, failing early with the server's log when its process has died. */
export async function waitForFrontend(layout: ClusterLayout, pid: number, address: string): Promise<void> {
  await waitUntil(
    `the Temporal frontend at ${address} to answer SERVING`,
    async () => {
      await assertStillRunning(layout, 'temporal', pid);
      return frontendServing(address);
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500, detail: () => tailFile(processLogFile(layout, 'temporal')) },
  );
}

/**
 * The `default` namespace and mailmend's search attributes, then a visibility query that uses them: a worker that
 * starts before the frontend knows the namespace, or before visibility knows the attributes, would fail.
 */
export async function prepareNamespace(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const namespace = DEFAULT_NAMESPACE;
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(RETENTION),
      });
    } catch (error) {
      if ((error as { code?: unknown }).code !== GRPC_ALREADY_EXISTS) throw error;
    }
    const probeQuery = INCIDENT_SEARCH_ATTRIBUTES.map((name) => `${name} = 'cluster-ready'`).join(' AND ');
    let lastError: unknown;
    await waitUntil(
      `namespace ${namespace} to accept mailmend's search attributes`,
      async () => {
        try {
          await ensureKeywordSearchAttributes(connection.operatorService, namespace, INCIDENT_SEARCH_ATTRIBUTES);
          await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1, query: probeQuery });
          return true;
        } catch (error) {
          lastError = error;
          return false;
        }
      },
      {
        timeoutMs: READY_TIMEOUT_MS,
        intervalMs: 1_000,
        detail: async () => `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
      },
    );
  } finally {
    await connection.close();
  }
}
