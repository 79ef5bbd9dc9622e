import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/temporal';

const recordedHistory = JSON.parse(readFileSync(path.join(__dirname, '..', 'histories', 'happy-path.json'), 'utf8'));
const RECORDED_WORKFLOW_ID = 'incident-mx-recorded';

describe('replay of recorded incident histories', () => {
  test('the current workflow code replays the recorded happy path', async () => {
    expect(recordedHistory.events.length).toBeGreaterThan(50);
    await expect(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, recordedHistory, RECORDED_WORKFLOW_ID),
    ).resolves.toBeUndefined();
  });

  test('an unguarded change to the workflow is caught as non-determinism', async () => {
    const changedBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./nondeterministic-workflow'),
      logger: {
        log: () => undefined,
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: () => undefined,
      },
    });
    await expect(
      Worker.runReplayHistory({ workflowBundle: changedBundle }, recordedHistory, RECORDED_WORKFLOW_ID),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
