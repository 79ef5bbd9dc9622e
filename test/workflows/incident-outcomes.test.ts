import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { alertSignal, incidentWorkflowId, WORKFLOW_TYPE } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { expectNoIncidentEndedBadly } from '../support/incident-outcomes';
import { raiseTestIncident, testAlert, testInput, waitForState } from '../support/incidents';
import { bundleWorkflowsQuietly, uniqueServerId, useSharedTemporal, withWorker } from '../support/temporal';

const temporal = useSharedTemporal();
const TIMEOUT_PASSED = 'its workflow execution or run timeout passed';

/** The check's complaint, one line per bad run, or the value it returned when it found none. */
async function complaintLines(check: Promise<unknown>): Promise<string[]> {
  const failure = await check.then(
    () => new Error('the check passed'),
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(Error);
  return (failure as Error).message.split('\n');
}

describe('the check that no incident ended badly', () => {
  test('names a terminated and a timed-out run with why, closes the open one, and ignores other queues', async () => {
    const taskQueue = `outcomes-${randomUUID()}`;
    const { client } = temporal;
    await withWorker(temporal.workerConnection, taskQueue, createFakeActivities().activities, async () => {
      const terminated = await raiseTestIncident(client, taskQueue, testInput(uniqueServerId('mx-terminated')));
      await terminated.terminate('stopped by hand to prove the check');
      const timedOutServer = uniqueServerId('mx-timed-out');
      const timedOut = await client.workflow.signalWithStart(WORKFLOW_TYPE, {
        workflowId: incidentWorkflowId(timedOutServer),
        taskQueue,
        args: [testInput(timedOutServer)],
        signal: alertSignal,
        signalArgs: [testAlert()],
        workflowExecutionTimeout: '2s',
      });
      await expect(timedOut.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      const open = await raiseTestIncident(client, taskQueue, testInput(uniqueServerId('mx-open')));
      await waitForState(open, (state) => state.phase === 'awaiting-approval');
      const elsewhere = await raiseTestIncident(client, `elsewhere-${randomUUID()}`, testInput(uniqueServerId('mx')));
      await elsewhere.terminate('on a queue the check does not look at');

      const lines = await complaintLines(expectNoIncidentEndedBadly(client, { taskQueues: [taskQueue] }));

      const terminatedBy = `terminated by ${client.options.identity}: stopped by hand to prove the check`;
      expect(lines).toEqual([
        '2 of 3 incident runs ended badly:',
        `  ${terminated.workflowId} (run ${terminated.signaledRunId}): TERMINATED: ${terminatedBy}`,
        `  ${timedOut.workflowId} (run ${timedOut.signaledRunId}): TIMED_OUT: ${TIMEOUT_PASSED}`,
      ]);
      const closed = await open.result();
      expect(closed.outcomeReason).toBe('closed by alice: the test run ended with the incident still open');
      expect(await expectNoIncidentEndedBadly(client, { workflowIds: [open.workflowId] })).toEqual([
        { workflowId: open.workflowId, runId: open.signaledRunId, status: 'COMPLETED' },
      ]);
    });
  });

  test('names a run that failed as the issue describes, with its whole failure chain', async () => {
    const taskQueue = `outcomes-${randomUUID()}`;
    const worker = await Worker.create({
      connection: temporal.workerConnection,
      taskQueue,
      workflowBundle: await bundleWorkflowsQuietly(require.resolve('../support/failing-incident-workflow')),
      // A probe that never answers: it only ends when the worker cancels it at shutdown.
      activities: { probeServer: () => Context.current().cancelled },
    });
    const workflowId = incidentWorkflowId(uniqueServerId('mx-failed'));
    await worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start(WORKFLOW_TYPE, { workflowId, taskQueue, args: [] });
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });

    const lines = await complaintLines(expectNoIncidentEndedBadly(temporal.client, { workflowIds: [workflowId] }));

    expect(lines).toEqual([
      '1 of 1 incident runs ended badly:',
      expect.stringMatching(
        new RegExp(
          `^  ${workflowId} \\(run \\S+\\): FAILED: ` +
            'Activity task timed out <- caused by <- activity StartToClose timeout$',
        ),
      ),
    ]);
  });

  test('reports an incident that no worker runs as not ended, with the deadline of its close', async () => {
    const taskQueue = `outcomes-${randomUUID()}`;
    const stranded = await raiseTestIncident(temporal.client, taskQueue, testInput(uniqueServerId('mx-stranded')));

    const lines = await complaintLines(
      expectNoIncidentEndedBadly(temporal.client, { taskQueues: [taskQueue] }, { timeoutMs: 2_000 }),
    );

    expect(lines).toEqual([
      '1 of 1 incident runs ended badly:',
      expect.stringMatching(
        new RegExp(
          `^  ${stranded.workflowId} \\(run \\S+\\): RUNNING: did not end within 2 s of the close Update \\(.+\\); pending: a workflow task .*; last events: EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, .*$`,
        ),
      ),
    ]);
    const nowhere = `nowhere-${randomUUID()}`;
    expect(await complaintLines(expectNoIncidentEndedBadly(temporal.client, { taskQueues: [nowhere] }))).toEqual([
      `no incident runs found for {"taskQueues":["${nowhere}"]}`,
    ]);
    // With a worker, the same close ends it.
    await withWorker(temporal.workerConnection, taskQueue, createFakeActivities().activities, () =>
      expectNoIncidentEndedBadly(temporal.client, { taskQueues: [taskQueue] }),
    );
  });
});
