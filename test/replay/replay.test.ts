import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { bundleWorkflowsQuietly, workflowBundle } from '../support/temporal';

const HISTORIES_DIR = path.join(__dirname, '..', 'histories');
const RECORDED_WORKFLOW_ID = 'incident-mx-recorded';

/** Every recorded history: older ones prove that `patched()` keeps incidents started by earlier releases running. */
const recordedHistories = readdirSync(HISTORIES_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => [file, JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'))] as const);

describe('replay of recorded incident histories', () => {
  test('histories from before and after each patch are recorded', () => {
    expect(recordedHistories.map(([file]) => file).sort()).toEqual([
      'approve-alternative.json',
      'certificate-warning.json',
      'handover-before-patch.json',
      'handover.json',
      'happy-path-round-trip.json',
      'happy-path.json',
    ]);
  });

  test.each(recordedHistories)('the current workflow code replays %s', async (_file, history) => {
    expect(history.events.length).toBeGreaterThan(30);
    await expect(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, RECORDED_WORKFLOW_ID),
    ).resolves.toBeUndefined();
  });

  test('an unguarded change to the workflow is caught as non-determinism', async () => {
    const changedBundle = await bundleWorkflowsQuietly(require.resolve('./nondeterministic-workflow'));
    const [, history] = recordedHistories[0] ?? [];
    await expect(
      Worker.runReplayHistory({ workflowBundle: changedBundle }, history, RECORDED_WORKFLOW_ID),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
