import type { Duration } from '@temporalio/common';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { MailmendActivities } from '../activities';
import { TASK_QUEUE } from '../workflows/messages';
import { DEFAULT_NAMESPACE } from '../platform/temporal/defaults';

interface MailmendWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  activities: MailmendActivities;
  taskQueue?: string;
  /** How long in-flight activities may finish after a shutdown request. */
  shutdownGraceTime?: Duration;
}

/** A worker for the incident workflow and its activities on the `mailmend` task queue. */
export function createMailmendWorker(options: MailmendWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? DEFAULT_NAMESPACE,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: options.activities,
    shutdownGraceTime: options.shutdownGraceTime ?? '30 seconds',
  });
}
