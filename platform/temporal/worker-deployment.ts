import { isGrpcServiceError, type Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';

/** gRPC status codes and proto enum values, by number: neither package is a direct dependency of mailmend. */
const GRPC_NOT_FOUND = 5;
const GRPC_FAILED_PRECONDITION = 9;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const ROUTING_CONFIG_UPDATE_IN_PROGRESS = 1;
/** `WorkerDeploymentVersionStatus`, in enum order. */
const VERSION_STATUSES = ['unspecified', 'inactive', 'current', 'ramping', 'draining', 'drained', 'created'] as const;
/** `VersionDrainageStatus`, in enum order. */
const DRAINAGE_STATUSES = ['unspecified', 'draining', 'drained'] as const;

export type DeploymentVersionStatus = (typeof VERSION_STATUSES)[number];
export type DrainageStatus = (typeof DRAINAGE_STATUSES)[number];

export interface DeploymentVersionDescription {
  status: DeploymentVersionStatus;
  /** The workflow task queues this version's workers have polled. */
  workflowTaskQueues: string[];
  /** Set once the version stops being current or ramping; the server refreshes it every few minutes. */
  drainage?: { status: DrainageStatus; checkedAt?: Date; changedAt?: Date };
}

export interface VersionDrainage {
  status: DeploymentVersionStatus;
  /** The server's own verdict, which lags: it recounts a draining version's pinned workflows every few minutes. */
  drainage?: DrainageStatus;
  drainageCheckedAt?: Date;
  /**
   * Running workflows pinned to this version, counted now in visibility. At zero no open incident needs its workers,
   * but a query of an incident that closed on it still goes to them, and waits for them, until they are gone.
   */
  openPinnedWorkflows: number;
}

/** The version did not become current in time; `cause` is the server's last answer, when it refused. */
export class DeploymentVersionNotReadyError extends Error {
  constructor(version: WorkerDeploymentVersion, waitedFor: string, timeoutMs: number, cause?: unknown) {
    super(
      `Worker Deployment Version ${versionString(version)} is not current within ${timeoutMs} ms: ${waitedFor}` +
        (cause instanceof Error ? ` (last answer: ${cause.message})` : ''),
      { cause },
    );
    this.name = 'DeploymentVersionNotReadyError';
  }
}

/** `deploymentName:buildId`, as the server writes it in the `TemporalWorkerDeploymentVersion` search attribute. */
export function versionString(version: WorkerDeploymentVersion): string {
  return `${version.deploymentName}:${version.buildId}`;
}

/**
 * What the server knows of a Worker Deployment Version; undefined until one of its workers has polled (or it was
 * created by hand).
 *
 * @example const description = await describeDeploymentVersion(client, { deploymentName: 'mailmend', buildId: 'B' });
 */
export async function describeDeploymentVersion(
  client: Client,
  version: WorkerDeploymentVersion,
): Promise<DeploymentVersionDescription | undefined> {
  let response: temporal.api.workflowservice.v1.DescribeWorkerDeploymentVersionResponse;
  try {
    response = await client.workflowService.describeWorkerDeploymentVersion({
      namespace: client.options.namespace,
      deploymentVersion: version,
    });
  } catch (error) {
    if (grpcCodeOf(error) === GRPC_NOT_FOUND) return undefined;
    throw error;
  }
  const info = response.workerDeploymentVersionInfo;
  const drainage = info?.drainageInfo;
  return {
    status: VERSION_STATUSES[info?.status ?? 0] ?? 'unspecified',
    workflowTaskQueues: (response.versionTaskQueues ?? [])
      .filter((queue) => queue.type === TASK_QUEUE_TYPE_WORKFLOW)
      .map((queue) => queue.name ?? ''),
    ...(drainage
      ? {
          drainage: {
            status: DRAINAGE_STATUSES[drainage.status ?? 0] ?? 'unspecified',
            checkedAt: optionalTsToDate(drainage.lastCheckedTime),
            changedAt: optionalTsToDate(drainage.lastChangedTime),
          },
        }
      : {}),
  };
}

/**
 * Whether a version that is no longer current still runs incidents: its status, the server's drainage verdict, and
 * the running workflows pinned to it. Stop its workers once `openPinnedWorkflows` is 0 (and `drainage` says drained,
 * for the server's own word).
 *
 * @example const { openPinnedWorkflows } = await versionDrainage(client, { deploymentName: 'mailmend', buildId: 'A' });
 */
export async function versionDrainage(client: Client, version: WorkerDeploymentVersion): Promise<VersionDrainage> {
  const description = await describeDeploymentVersion(client, version);
  const { count } = await client.workflow.count(openPinnedQuery(version));
  return {
    status: description?.status ?? 'unspecified',
    ...(description?.drainage
      ? { drainage: description.drainage.status, drainageCheckedAt: description.drainage.checkedAt }
      : {}),
    openPinnedWorkflows: count,
  };
}

function openPinnedQuery(version: WorkerDeploymentVersion): string {
  const value = versionString(version);
  if (/['"\\]/.test(value)) throw new Error(`cannot query for the version ${value}: it contains a quote or backslash`);
  return (
    `TemporalWorkerDeploymentVersion = '${value}' AND TemporalWorkflowVersioningBehavior = 'Pinned' ` +
    `AND ExecutionStatus = 'Running'`
  );
}

interface SetCurrentOptions {
  /** How long to wait for the version's workers to poll and for the routing change to reach every task queue. */
  timeoutMs?: number;
  pollIntervalMs?: number;
}

/**
 * Makes `version` the current version of its Worker Deployment, as `temporal worker deployment set-current-version`
 * does: new incidents start on it, and incidents pinned to earlier versions stay there. It first waits until the
 * version's workers have polled (the server refuses a version it has not seen), retries while the server is not
 * ready, and returns once the routing change has reached the task queues, with the version that was current before.
 *
 * @example const { previous } = await setCurrentDeploymentVersion(client, { deploymentName: 'mailmend', buildId: 'B' });
 */
export async function setCurrentDeploymentVersion(
  client: Client,
  version: WorkerDeploymentVersion,
  options: SetCurrentOptions = {},
): Promise<{ previous?: WorkerDeploymentVersion }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const wait = { version, timeoutMs, deadline: Date.now() + timeoutMs };
  const intervalMs = options.pollIntervalMs ?? 250;
  await waitFor(wait, intervalMs, 'its workers have not polled a workflow task queue', async () => {
    const description = await describeDeploymentVersion(client, version);
    return description && description.workflowTaskQueues.length > 0 ? description : undefined;
  });
  const response = await waitFor(wait, intervalMs, 'the server has not accepted it as current', () =>
    client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: client.options.namespace,
      deploymentName: version.deploymentName,
      buildId: version.buildId,
      identity: client.options.identity,
    }),
  );
  await waitFor(wait, intervalMs, 'the routing change has not reached its task queues', () =>
    routedTo(client, version),
  );
  const previous = response.previousDeploymentVersion;
  return previous?.buildId && previous.deploymentName
    ? { previous: { deploymentName: previous.deploymentName, buildId: previous.buildId } }
    : {};
}

async function routedTo(client: Client, version: WorkerDeploymentVersion): Promise<true | undefined> {
  const { workerDeploymentInfo } = await client.workflowService.describeWorkerDeployment({
    namespace: client.options.namespace,
    deploymentName: version.deploymentName,
  });
  const current = workerDeploymentInfo?.routingConfig?.currentDeploymentVersion;
  const propagating = workerDeploymentInfo?.routingConfigUpdateState === ROUTING_CONFIG_UPDATE_IN_PROGRESS;
  return current?.buildId === version.buildId && !propagating ? true : undefined;
}

interface Wait {
  version: WorkerDeploymentVersion;
  timeoutMs: number;
  deadline: number;
}

/**
 * Calls `attempt` until it gives a value, retrying while it answers undefined or the server says not found / not
 * ready (the version or its deployment not yet registered by a poller); any other error is final.
 */
async function waitFor<T>(
  wait: Wait,
  intervalMs: number,
  waitedFor: string,
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  let lastError: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      if (!isNotReady(error)) throw error;
      lastError = error;
    }
    if (Date.now() + intervalMs > wait.deadline) {
      throw new DeploymentVersionNotReadyError(wait.version, waitedFor, wait.timeoutMs, lastError);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function isNotReady(error: unknown): boolean {
  const code = grpcCodeOf(error);
  return code === GRPC_NOT_FOUND || code === GRPC_FAILED_PRECONDITION;
}

function grpcCodeOf(error: unknown): number | undefined {
  return isGrpcServiceError(error) ? error.code : undefined;
}

/**
 * Makes `version` current only when its Worker Deployment has no current version yet: the first deploy of a new
 * installation, where nobody has chosen one and new incidents would otherwise wait. Later releases are made current
 * by a person (`temporal worker deployment set-current-version`), never by a worker that happens to start.
 */
export async function setCurrentIfNone(
  client: Client,
  version: WorkerDeploymentVersion,
  options: SetCurrentOptions = {},
): Promise<'set' | 'already-chosen'> {
  if (await currentChosen(client, version.deploymentName)) return 'already-chosen';
  await setCurrentDeploymentVersion(client, version, options);
  return 'set';
}

/** Whether anyone ever chose a current version: making unversioned workers current is a choice too. */
async function currentChosen(client: Client, deploymentName: string): Promise<boolean> {
  try {
    const { workerDeploymentInfo } = await client.workflowService.describeWorkerDeployment({
      namespace: client.options.namespace,
      deploymentName,
    });
    const routing = workerDeploymentInfo?.routingConfig;
    return Boolean(routing?.currentDeploymentVersion?.buildId) || Boolean(routing?.currentVersionChangedTime);
  } catch (error) {
    // The deployment exists only once one of its workers has polled.
    if (grpcCodeOf(error) === GRPC_NOT_FOUND) return false;
    throw error;
  }
}
