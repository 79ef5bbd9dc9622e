/** `mailmend cluster`: a production-shaped Temporal on PostgreSQL, with two workers and two webhooks, on loopback. */
export {
  clusterUp,
  clusterStatus,
  clusterDown,
  clusterProcessPid,
  restartTemporalServer,
  restartPostgresql,
  withClusterClient,
  type ClusterUpOptions,
  type ClusterInfo,
  type ClusterStatus,
  type ClusterServiceState,
} from './cluster';
export {
  CLUSTER_PORT_SPAN,
  CLUSTER_WEBHOOKS,
  CLUSTER_WORKERS,
  DEFAULT_CLUSTER_BASE_PORT,
  HIGHEST_BASE_PORT,
  clusterLayout,
  clusterPorts,
  processLogFile,
  processPidFile,
  type ClusterLayout,
  type ClusterPorts,
  type ClusterProcessName,
  type ClusterSettings,
} from './layout';
export { freeClusterBasePort } from './free-base-port';
export { taskQueuePollers, workerIdentity } from './mailmend-processes';
export {
  clusterTopology,
  DEFAULT_DEPLOYMENT_NAME,
  TEMPORAL_DATABASE,
  POSTGRESQL_MAJOR,
  type ClusterServiceSpec,
} from './topology';
export { ClusterServiceError, ClusterStateError } from './errors';
