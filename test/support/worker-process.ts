import { connectWorker, localTemporalSettings } from '../../platform/temporal/connection';
import { createMailmendWorker } from '../../worker/worker';
import { createFakeActivities } from './fake-activities';

/**
 * A separate worker process for the restart test, so the test can kill a real process. It runs the production worker
 * setup with fake activities, because the mail host it would act on arrives with the lab.
 */
async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.MAILMEND_TASK_QUEUE;
  if (!address || !taskQueue) throw new Error('TEMPORAL_ADDRESS and MAILMEND_TASK_QUEUE must be set');
  const connection = await connectWorker(localTemporalSettings(address));
  const { activities } = createFakeActivities();
  const worker = await createMailmendWorker({ connection, taskQueue, activities, shutdownGraceTime: '2 seconds' });
  const running = worker.run();
  process.stdout.write('worker ready\n');
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
