import path from 'node:path';

/** Every port of the cluster, each an offset from one base, so a second cluster only needs another base. */
export interface ClusterPorts {
  postgresql: number;
  /** Temporal's gRPC frontend: what workers, webhooks, the CLI and the UI connect to. */
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  /** Temporal's own internal worker service (archival, namespace deletion), not mailmend's. */
  internalWorker: number;
  frontendMembership: number;
  historyMembership: number;
  matchingMembership: number;
  internalWorkerMembership: number;
  temporalMetrics: number;
  ui: number;
  webhookA: number;
  webhookB: number;
}

/** 17233 for the frontend: 7233 is the dev server's, which `npm start` may be running beside the cluster. */
export const DEFAULT_CLUSTER_BASE_PORT = 17230;

const PORT_OFFSETS: Record<keyof ClusterPorts, number> = {
  postgresql: 2,
  frontend: 3,
  history: 4,
  matching: 5,
  internalWorker: 9,
  frontendHttp: 13,
  frontendMembership: 20,
  historyMembership: 21,
  matchingMembership: 22,
  internalWorkerMembership: 23,
  temporalMetrics: 30,
  ui: 40,
  webhookA: 50,
  webhookB: 51,
};

/** Temporal keeps each service's membership port in a PostgreSQL smallint column; above it the server exits at start. */
export const HIGHEST_BASE_PORT =
  32_767 -
  Math.max(
    PORT_OFFSETS.frontendMembership,
    PORT_OFFSETS.historyMembership,
    PORT_OFFSETS.matchingMembership,
    PORT_OFFSETS.internalWorkerMembership,
  );

/** The highest offset, so a caller choosing a base knows how many ports above it the cluster takes. */
export const CLUSTER_PORT_SPAN = Math.max(...Object.values(PORT_OFFSETS)) + 1;

export function clusterPorts(basePort: number): ClusterPorts {
  return Object.fromEntries(
    Object.entries(PORT_OFFSETS).map(([name, offset]) => [name, basePort + offset]),
  ) as unknown as ClusterPorts;
}

/** What `clusterUp` chose, kept in the state dir so `status`, `down` and a later `up` find the same cluster. */
export interface ClusterSettings {
  basePort: number;
  /** The mailmend config the workers and webhooks run with, absolute. */
  configFile: string;
  /** The Worker Deployment the workers join, and the build id of their workflow code. */
  deploymentName: string;
  buildId: string;
  /** Given with --build-id, so kept by later `up`s, rather than derived from the workflow code each time. */
  buildIdChosen?: boolean;
}

/** The two mailmend workers and two webhooks, by the names `cluster status` and the compose file use. */
export const CLUSTER_WORKERS = ['worker-a', 'worker-b'] as const;
export const CLUSTER_WEBHOOKS = ['webhook-a', 'webhook-b'] as const;
export type ClusterProcessName =
  'temporal' | 'temporal-ui' | (typeof CLUSTER_WORKERS)[number] | (typeof CLUSTER_WEBHOOKS)[number];

/** Every path the cluster uses, all under one state directory. */
export interface ClusterLayout {
  stateDir: string;
  settingsFile: string;
  logDir: string;
  pidDir: string;
  /** Owned by the postgres user when the cluster runs as root: initdb and the server refuse to run as root. */
  postgresqlDir: string;
  postgresqlData: string;
  postgresqlSocketDir: string;
  postgresqlLog: string;
  temporalRoot: string;
  temporalConfigDir: string;
  temporalConfigFile: string;
  dynamicConfigFile: string;
  /** An empty envconfig file for the workers and webhooks, so no profile of the caller's applies to them. */
  emptyTemporalConfigFile: string;
}

export function clusterLayout(stateDir: string): ClusterLayout {
  const root = path.resolve(stateDir);
  const postgresqlDir = path.join(root, 'postgresql');
  const temporalRoot = path.join(root, 'temporal');
  const temporalConfigDir = path.join(temporalRoot, 'config');
  return {
    stateDir: root,
    settingsFile: path.join(root, 'cluster.json'),
    logDir: path.join(root, 'logs'),
    pidDir: path.join(root, 'pids'),
    postgresqlDir,
    postgresqlData: path.join(postgresqlDir, 'data'),
    postgresqlSocketDir: path.join(postgresqlDir, 'run'),
    postgresqlLog: path.join(postgresqlDir, 'postgresql.log'),
    temporalRoot,
    temporalConfigDir,
    temporalConfigFile: path.join(temporalConfigDir, 'development.yaml'),
    dynamicConfigFile: path.join(temporalConfigDir, 'dynamicconfig.yaml'),
    emptyTemporalConfigFile: path.join(root, 'temporal-envconfig.toml'),
  };
}

export function processLogFile(layout: ClusterLayout, name: ClusterProcessName): string {
  return path.join(layout.logDir, `${name}.log`);
}

export function processPidFile(layout: ClusterLayout, name: ClusterProcessName): string {
  return path.join(layout.pidDir, `${name}.pid`);
}
