import type { Duration, WorkerDeploymentVersion } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkerDeploymentOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { MailmendActivities } from '../activities';
import { TASK_QUEUE } from '../workflows/messages';
import { DEFAULT_NAMESPACE } from '../platform/temporal/defaults';
import { ensureKeywordSearchAttributes } from '../platform/temporal/search-attribute-registration';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

interface MailmendWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  activities: MailmendActivities;
  taskQueue?: string;
  /** Told when the incident's search attributes could not be checked. */
  logger?: Pick<Logger, 'warn'>;
  /** How long in-flight activities may finish after a shutdown request. */
  shutdownGraceTime?: Duration;
  /**
   * Runs the worker as this Worker Deployment Version. Each incident is pinned to the version it started on, so a
   * release that changes the workflow never replays an open incident: the old version's workers finish it.
   */
  deployment?: WorkerDeploymentVersion;
  /** The workflow code, the incident workflow unless set: a test gives another release's. */
  workflowsPath?: string;
}

/** The incident workflow's code, for the worker and for the build id derived from it. */
export const INCIDENT_WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * A worker for the incident workflow and its activities on the `mailmend` task queue. It first registers the
 * incident's search attributes the namespace lacks, since an incident cannot start without them.
 */
export async function createMailmendWorker(options: MailmendWorkerOptions): Promise<Worker> {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const registration = await ensureKeywordSearchAttributes(
    options.connection.operatorService,
    namespace,
    INCIDENT_SEARCH_ATTRIBUTES,
  );
  if (registration === 'unverified') {
    options.logger?.warn(
      { namespace, searchAttributes: INCIDENT_SEARCH_ATTRIBUTES },
      'cannot list search attributes with these credentials: incidents fail their workflow tasks unless these exist',
    );
  }
  return Worker.create({
    connection: options.connection,
    namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    workflowsPath: options.workflowsPath ?? INCIDENT_WORKFLOWS_PATH,
    activities: options.activities,
    shutdownGraceTime: options.shutdownGraceTime ?? '30 seconds',
    workerDeploymentOptions: options.deployment && pinnedTo(options.deployment),
  });
}

/**
 * Pinned, not auto-upgrade: an incident that continues as new keeps its pin in the new run, so a whole incident, all
 * its runs, stays on the code that started it and never has to read another release's carried-over state.
 */
function pinnedTo(version: WorkerDeploymentVersion): WorkerDeploymentOptions {
  return { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' };
}
