import { LOOPBACK } from '../platform/loopback';
import { DEFAULT_NAMESPACE } from '../platform/temporal/defaults';
import { TEMPORAL_SERVER_VERSION } from '../platform/temporal/server/resolve';
import {
  CLUSTER_WEBHOOKS,
  CLUSTER_WORKERS,
  clusterPorts,
  type ClusterProcessName,
  type ClusterSettings,
} from './layout';

/** The PostgreSQL major version the cluster runs (Debian's), and the databases and role Temporal uses in it. */
export const POSTGRESQL_MAJOR = 15;
export const TEMPORAL_DATABASE = {
  plugin: 'postgres12',
  user: 'temporal',
  /** Local connections are trusted (loopback only); the config still names a password, as the server requires one. */
  password: 'temporal',
  main: 'temporal',
  visibility: 'temporal_visibility',
} as const;

export const DEFAULT_DEPLOYMENT_NAME = 'mailmend';

export type ClusterServiceName = 'postgresql' | ClusterProcessName;

/**
 * One service of the production-shaped topology, as `mailmend cluster` runs it on loopback. docker-compose.yml
 * describes the same services, and a test holds the two together.
 */
export interface ClusterServiceSpec {
  name: ClusterServiceName;
  role: 'database' | 'temporal' | 'ui' | 'worker' | 'webhook';
  /** What the service listens on, by purpose. */
  ports: Record<string, number>;
  /** The environment a mailmend process gets: the variables an operator sets on each worker and webhook. */
  env: Record<string, string>;
  /** Services that must be up first. */
  dependsOn: ClusterServiceName[];
  /** The release it runs, where that is pinned. */
  version?: string;
}

/** The topology for these settings: PostgreSQL, the Temporal server, its UI, two workers and two webhooks. */
export function clusterTopology(settings: ClusterSettings): ClusterServiceSpec[] {
  const ports = clusterPorts(settings.basePort);
  const temporal = {
    TEMPORAL_ADDRESS: `${LOOPBACK}:${ports.frontend}`,
    TEMPORAL_NAMESPACE: DEFAULT_NAMESPACE,
    MAILMEND_CONFIG: settings.configFile,
  };
  const webhookPorts = { 'webhook-a': ports.webhookA, 'webhook-b': ports.webhookB };
  return [
    {
      name: 'postgresql',
      role: 'database',
      ports: { sql: ports.postgresql },
      env: {},
      dependsOn: [],
      version: String(POSTGRESQL_MAJOR),
    },
    {
      name: 'temporal',
      role: 'temporal',
      ports: {
        frontend: ports.frontend,
        frontendHttp: ports.frontendHttp,
        history: ports.history,
        matching: ports.matching,
        internalWorker: ports.internalWorker,
        metrics: ports.temporalMetrics,
      },
      env: {},
      dependsOn: ['postgresql'],
      version: TEMPORAL_SERVER_VERSION,
    },
    {
      name: 'temporal-ui',
      role: 'ui',
      ports: { http: ports.ui },
      env: { TEMPORAL_ADDRESS: temporal.TEMPORAL_ADDRESS },
      dependsOn: ['temporal'],
    },
    ...CLUSTER_WORKERS.map((name): ClusterServiceSpec => ({
      name,
      role: 'worker',
      ports: {},
      env: {
        ...temporal,
        MAILMEND_DEPLOYMENT_NAME: settings.deploymentName,
        MAILMEND_BUILD_ID: settings.buildId,
      },
      dependsOn: ['temporal'],
    })),
    ...CLUSTER_WEBHOOKS.map((name): ClusterServiceSpec => ({
      name,
      role: 'webhook',
      ports: { http: webhookPorts[name] },
      env: { ...temporal, MAILMEND_WEBHOOK_HOST: LOOPBACK, MAILMEND_WEBHOOK_PORT: String(webhookPorts[name]) },
      dependsOn: ['temporal'],
    })),
  ];
}
