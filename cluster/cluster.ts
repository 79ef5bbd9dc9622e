import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfigFile } from '../config/load';
import { isListening } from '../lab/processes';
import { LOOPBACK } from '../platform/loopback';
import { DEFAULT_NAMESPACE } from '../platform/temporal/defaults';
import { resolveTemporalServer, type TemporalServerBinaries } from '../platform/temporal/server/resolve';
import { setCurrentDeploymentVersion, setCurrentIfNone, versionDrainage } from '../platform/temporal/worker-deployment';
import { workflowCodeBuildId } from '../worker/build-id';
import { daemonPid, stopDaemon } from './daemons';
import { ClusterStateError } from './errors';
import {
  CLUSTER_PORT_SPAN,
  DEFAULT_CLUSTER_BASE_PORT,
  HIGHEST_BASE_PORT,
  clusterLayout,
  clusterPorts,
  type ClusterLayout,
  type ClusterPorts,
  type ClusterProcessName,
  type ClusterSettings,
} from './layout';
import {
  mailmendProcessPid,
  startMailmendProcess,
  taskQueuePollers,
  waitForWebhook,
  waitForWorkers,
} from './mailmend-processes';
import { ensureDatabaseCluster, findPostgresql, postgresqlPid, startPostgresql, stopPostgresql } from './postgresql';
import {
  applySchema,
  frontendServing,
  prepareNamespace,
  startTemporalServer,
  temporalServerPid,
  waitForFrontend,
  writeServerConfig,
} from './temporal-server';
import { clusterTopology, DEFAULT_DEPLOYMENT_NAME, type ClusterServiceName, type ClusterServiceSpec } from './topology';
import { startUi, stopUi, uiPid } from './ui';

export interface ClusterUpOptions {
  stateDir: string;
  /** The mailmend config the workers and webhooks run with (its `temporal:` section is ignored: they use the cluster). */
  configFile?: string;
  basePort?: number;
  deploymentName?: string;
  /** Defaults to the build id of the workflow code this mailmend has. */
  buildId?: string;
  onProgress?: (line: string) => void;
}

export interface ClusterServiceState {
  name: ClusterServiceName;
  pid?: number;
  /** Where it listens (the frontend for Temporal), when it listens at all. */
  address?: string;
  up: boolean;
}

export interface ClusterInfo {
  stateDir: string;
  settings: ClusterSettings;
  ports: ClusterPorts;
  /** Where workers, webhooks and the CLI connect. */
  frontendAddress: string;
  uiUrl?: string;
  webhookUrls: string[];
  services: ClusterServiceState[];
  startupMs: number;
}

export interface ClusterStatus {
  stateDir: string;
  configured: boolean;
  settings?: ClusterSettings;
  services: ClusterServiceState[];
  /** The frontend's health check said SERVING. */
  serving: boolean;
  /** Identities polling the mailmend task queue for workflow tasks. */
  workflowPollers: string[];
  allUp: boolean;
}

async function readSettings(layout: ClusterLayout): Promise<ClusterSettings | undefined> {
  if (!existsSync(layout.settingsFile)) return undefined;
  return JSON.parse(await readFile(layout.settingsFile, 'utf8')) as ClusterSettings;
}

async function writeSettings(layout: ClusterLayout, settings: ClusterSettings): Promise<void> {
  await writeFile(layout.settingsFile, `${JSON.stringify(settings, null, 2)}\n`);
}

/** Options win; then what the previous cluster in this state dir used, so `up` after `down` comes back the same. */
function settingsFrom(options: ClusterUpOptions, previous: ClusterSettings | undefined): ClusterSettings {
  const configFile = options.configFile ?? previous?.configFile;
  if (!configFile) {
    throw new ClusterStateError(
      'the cluster needs a mailmend config for its workers and webhooks: --config <file> (or MAILMEND_CONFIG)',
    );
  }
  const basePort = options.basePort ?? previous?.basePort ?? DEFAULT_CLUSTER_BASE_PORT;
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort > HIGHEST_BASE_PORT) {
    throw new ClusterStateError(
      `base port ${basePort} is refused: the cluster needs 1024 to ${HIGHEST_BASE_PORT}, since Temporal keeps its ` +
        'membership ports (base+20 to base+23) in a PostgreSQL smallint',
    );
  }
  return {
    basePort,
    configFile: path.resolve(configFile),
    deploymentName: options.deploymentName ?? previous?.deploymentName ?? DEFAULT_DEPLOYMENT_NAME,
    // A build id someone chose stays until they choose another; otherwise it follows the workflow code.
    buildId:
      options.buildId ??
      (previous?.buildIdChosen ? previous.buildId : workflowCodeBuildId(require.resolve('../workflows'))),
    buildIdChosen: options.buildId !== undefined || (previous?.buildIdChosen ?? false),
  };
}

function mailmendSpecs(settings: ClusterSettings, role: 'worker' | 'webhook'): ClusterServiceSpec[] {
  return clusterTopology(settings).filter((spec) => spec.role === role);
}

/**
 * Workers of another build still run: starting the missing ones with this code would put two builds under one build
 * id, which is what versioning exists to prevent.
 */
async function assertSameBuildAsRunningWorkers(
  layout: ClusterLayout,
  previous: ClusterSettings | undefined,
  settings: ClusterSettings,
): Promise<void> {
  if (previous && previous.basePort !== settings.basePort && (await anythingRuns(layout, previous))) {
    throw new ClusterStateError(
      `the cluster runs on base port ${previous.basePort}: \`mailmend cluster down\` before moving it to ${settings.basePort}`,
    );
  }
  if (!previous || previous.buildId === settings.buildId) return;
  const running = await Promise.all(mailmendSpecs(previous, 'worker').map((spec) => mailmendProcessPid(layout, spec)));
  if (running.every((pid) => pid === undefined)) return;
  throw new ClusterStateError(
    `the cluster's workers run build ${previous.buildId}, and this code is build ${settings.buildId}: ` +
      'a new release goes out beside the old one (README, "Deploying a new release"); to start over, ' +
      '`mailmend cluster down` first (incidents still open on the old build then wait for its workers)',
  );
}

async function anythingRuns(layout: ClusterLayout, settings: ClusterSettings): Promise<boolean> {
  const pids = await Promise.all([
    postgresqlPid(layout),
    temporalServerPid(layout),
    uiPid(layout),
    ...clusterTopology(settings)
      .filter((spec) => spec.role === 'worker' || spec.role === 'webhook')
      .map((spec) => mailmendProcessPid(layout, spec)),
  ]);
  return pids.some((pid) => pid !== undefined);
}

/**
 * Incidents still open on the previous build are pinned to it: starting another build would leave them without a
 * worker for good. Say so, and how to get out, instead.
 */
async function assertNoIncidentPinnedToPrevious(
  client: Client,
  previous: ClusterSettings | undefined,
  settings: ClusterSettings,
): Promise<void> {
  if (!previous || previous.buildId === settings.buildId) return;
  const version = { deploymentName: previous.deploymentName, buildId: previous.buildId };
  const { openPinnedWorkflows } = await versionDrainage(client, version).catch(() => ({ openPinnedWorkflows: 0 }));
  if (openPinnedWorkflows === 0) return;
  throw new ClusterStateError(
    `${openPinnedWorkflows} incident(s) are still open on build ${previous.buildId}, and only its workers may run ` +
      `them; this code is build ${settings.buildId}. Bring that build back (check it out, or ` +
      `\`mailmend cluster up --build-id ${previous.buildId}\` with its code), let them close, then up again; ` +
      'or end them with `temporal workflow terminate` if they are not needed',
  );
}

/** A port of ours that something else holds would make a component fail later with a less clear message. */
async function assertFree(port: number, what: string): Promise<void> {
  if (await isListening(port)) {
    throw new ClusterStateError(
      `${LOOPBACK}:${port}, the cluster's ${what} port, is already in use by another process: ` +
        `choose another --base-port (the cluster takes ${CLUSTER_PORT_SPAN} ports from it)`,
    );
  }
}

async function ensurePostgresql(layout: ClusterLayout, ports: ClusterPorts): Promise<void> {
  const tools = await findPostgresql();
  if ((await postgresqlPid(layout)) !== undefined) return;
  await assertFree(ports.postgresql, 'PostgreSQL');
  await ensureDatabaseCluster(layout, tools);
  await startPostgresql(layout, tools, ports.postgresql);
}

async function ensureTemporal(layout: ClusterLayout, binaries: TemporalServerBinaries, ports: ClusterPorts) {
  const address = `${LOOPBACK}:${ports.frontend}`;
  let pid = await temporalServerPid(layout);
  if (pid === undefined) {
    await assertFree(ports.frontend, 'Temporal frontend');
    await applySchema(layout, binaries, ports.postgresql);
    await writeServerConfig(layout, binaries, ports);
    pid = await startTemporalServer(layout, binaries);
  }
  await waitForFrontend(layout, pid, address);
  await prepareNamespace(address);
}

async function ensureMailmendProcesses(
  layout: ClusterLayout,
  settings: ClusterSettings,
  buildChanged: boolean,
  client: Client,
) {
  const workers: { name: ClusterProcessName; pid: number }[] = [];
  for (const spec of mailmendSpecs(settings, 'worker')) {
    const pid = (await mailmendProcessPid(layout, spec)) ?? (await startMailmendProcess(layout, spec));
    workers.push({ name: spec.name as ClusterProcessName, pid });
  }
  await waitForWorkers(layout, client, workers);
  // Until a version is current, new incidents would wait for unversioned workers, of which the cluster has none. A
  // plain `up` that only restarts what stopped leaves alone a version someone has made current since.
  const version = { deploymentName: settings.deploymentName, buildId: settings.buildId };
  if (buildChanged) await setCurrentDeploymentVersion(client, version);
  else await setCurrentIfNone(client, version);
  for (const spec of mailmendSpecs(settings, 'webhook')) {
    const pid = (await mailmendProcessPid(layout, spec)) ?? (await startMailmendProcess(layout, spec));
    await waitForWebhook(layout, spec.name as ClusterProcessName, pid, Number(spec.ports.http));
  }
}

/** The pid of one of the cluster's processes (not PostgreSQL), when it runs. */
export function clusterProcessPid(stateDir: string, name: ClusterProcessName): Promise<number | undefined> {
  return daemonPid(clusterLayout(stateDir), name);
}

/** Runs `body` with a client of the cluster's frontend. */
export async function withClusterClient<T>(address: string, body: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await body(new Client({ connection, namespace: DEFAULT_NAMESPACE }));
  } finally {
    await connection.close();
  }
}

/**
 * Brings up, or completes, the cluster in `stateDir`: PostgreSQL, the Temporal server on it with its schema, the
 * namespace and mailmend's search attributes, the Temporal UI, two workers (as the current Worker Deployment Version)
 * and two webhooks. What already runs is kept, so `up` also restarts whatever has stopped.
 */
export async function clusterUp(options: ClusterUpOptions): Promise<ClusterInfo> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const layout = clusterLayout(options.stateDir);
  const previous = await readSettings(layout);
  const settings = settingsFrom(options, previous);
  await assertSameBuildAsRunningWorkers(layout, previous, settings);
  // A config the workers cannot load would only show as workers that exit; say so before anything starts.
  loadConfigFile(settings.configFile, process.env);
  await mkdir(layout.stateDir, { recursive: true });
  // The build id is recorded only once no incident pinned to the previous one stands in the way.
  await writeSettings(layout, previous ? { ...settings, buildId: previous.buildId } : settings);
  const ports = clusterPorts(settings.basePort);
  const binaries = await resolveTemporalServer({ env: process.env, onProgress: progress });
  progress('PostgreSQL');
  await ensurePostgresql(layout, ports);
  progress('Temporal server');
  await ensureTemporal(layout, binaries, ports);
  progress('Temporal UI');
  await startUi(layout, ports, progress);
  progress('workers and webhooks');
  const frontendAddress = `${LOOPBACK}:${ports.frontend}`;
  await withClusterClient(frontendAddress, async (client) => {
    await assertNoIncidentPinnedToPrevious(client, previous, settings);
    await writeSettings(layout, settings);
    await ensureMailmendProcesses(layout, settings, previous?.buildId !== settings.buildId, client);
  });
  const status = await clusterStatus(options.stateDir);
  return {
    stateDir: layout.stateDir,
    settings,
    ports,
    frontendAddress,
    uiUrl: status.services.find((service) => service.name === 'temporal-ui')?.up
      ? `http://${LOOPBACK}:${ports.ui}`
      : undefined,
    webhookUrls: [ports.webhookA, ports.webhookB].map((port) => `http://${LOOPBACK}:${port}`),
    services: status.services,
    startupMs: Date.now() - started,
  };
}

async function serviceState(
  name: ClusterServiceName,
  pid: number | undefined,
  port?: number,
): Promise<ClusterServiceState> {
  const listening = port === undefined ? pid !== undefined : pid !== undefined && (await isListening(port));
  return { name, pid, ...(port !== undefined ? { address: `${LOOPBACK}:${port}` } : {}), up: listening };
}

/** Each component's pid and whether it listens, the frontend's health, and who polls the mailmend task queue. */
export async function clusterStatus(stateDir: string): Promise<ClusterStatus> {
  const layout = clusterLayout(stateDir);
  const settings = await readSettings(layout);
  if (!settings) {
    return {
      stateDir: layout.stateDir,
      configured: false,
      services: [],
      serving: false,
      workflowPollers: [],
      allUp: false,
    };
  }
  const ports = clusterPorts(settings.basePort);
  const services: ClusterServiceState[] = [
    await serviceState('postgresql', await postgresqlPid(layout), ports.postgresql),
    await serviceState('temporal', await temporalServerPid(layout), ports.frontend),
    await serviceState('temporal-ui', await uiPid(layout), ports.ui),
  ];
  for (const spec of [...mailmendSpecs(settings, 'worker'), ...mailmendSpecs(settings, 'webhook')]) {
    const port = spec.ports.http;
    services.push(await serviceState(spec.name, await mailmendProcessPid(layout, spec), port));
  }
  const frontendAddress = `${LOOPBACK}:${ports.frontend}`;
  const serving = await frontendServing(frontendAddress);
  const workflowPollers = serving
    ? await withClusterClient(frontendAddress, async (client) => (await taskQueuePollers(client)).workflow).catch(
        () => [],
      )
    : [];
  return {
    stateDir: layout.stateDir,
    configured: true,
    settings,
    services,
    serving,
    workflowPollers,
    allUp: serving && services.every((service) => service.up),
  };
}

/**
 * Stops every cluster process by its pid, mailmend's first (webhooks, then workers, which get their grace time), then
 * the UI, the Temporal server and PostgreSQL. The data stays, so incidents are still there after the next `up`.
 */
export async function clusterDown(stateDir: string): Promise<{ stopped: { name: ClusterServiceName; pid: number }[] }> {
  const layout = clusterLayout(stateDir);
  const settings = await readSettings(layout);
  const stopped: { name: ClusterServiceName; pid: number }[] = [];
  const record = (name: ClusterServiceName, pid: number | undefined): void => {
    if (pid !== undefined) stopped.push({ name, pid });
  };
  if (!settings) return { stopped };
  for (const spec of [...mailmendSpecs(settings, 'webhook'), ...mailmendSpecs(settings, 'worker')]) {
    record(spec.name, await stopDaemon(layout, spec.name as ClusterProcessName, 40_000));
  }
  record('temporal-ui', await stopUi(layout));
  record('temporal', await stopDaemon(layout, 'temporal'));
  const databasePid = await postgresqlPid(layout);
  if (await stopPostgresql(layout, await findPostgresql())) record('postgresql', databasePid);
  return { stopped };
}

/** Stops and starts the Temporal server process alone, as an operator restarting it would; returns the new pid. */
export async function restartTemporalServer(stateDir: string): Promise<number> {
  const layout = clusterLayout(stateDir);
  const settings = await requireSettings(layout);
  const binaries = await resolveTemporalServer({ env: process.env, onProgress: () => undefined });
  await stopDaemon(layout, 'temporal');
  const pid = await startTemporalServer(layout, binaries);
  await waitForFrontend(layout, pid, `${LOOPBACK}:${clusterPorts(settings.basePort).frontend}`);
  return pid;
}

/** Stops PostgreSQL (fast shutdown) and starts it again on the same port. */
export async function restartPostgresql(stateDir: string, downForMs = 0): Promise<void> {
  const layout = clusterLayout(stateDir);
  const settings = await requireSettings(layout);
  const tools = await findPostgresql();
  await stopPostgresql(layout, tools);
  if (downForMs > 0) await new Promise((resolve) => setTimeout(resolve, downForMs));
  await startPostgresql(layout, tools, clusterPorts(settings.basePort).postgresql);
}

async function requireSettings(layout: ClusterLayout): Promise<ClusterSettings> {
  const settings = await readSettings(layout);
  if (!settings)
    throw new ClusterStateError(`no cluster in ${layout.stateDir}: start one with \`npx mailmend cluster up\``);
  return settings;
}
