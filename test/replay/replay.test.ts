import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import type { IncidentInput } from '../../workflows/messages';
import { bundleWorkflowsQuietly, workflowBundle } from '../support/temporal';

const HISTORIES_DIR = path.join(__dirname, '..', 'histories');
const RECORDED_WORKFLOW_ID = 'incident-mx-recorded';

/** The parts of a recorded history event (in its JSON form) that the tests below read. */
interface RecordedEvent {
  eventId: string;
  markerRecordedEventAttributes?: {
    markerName?: string;
    details?: Record<string, { payloads?: { data?: string }[] } | undefined>;
  };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  activityTaskStartedEventAttributes?: { scheduledEventId?: string; attempt?: number };
}

/** Every recorded history: older ones prove that `patched()` keeps incidents started by earlier releases running. */
const recordedHistories = readdirSync(HISTORIES_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => [file, JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'))] as const);

describe('replay of recorded incident histories', () => {
  test('histories from before and after each patch are recorded', () => {
    expect(recordedHistories.map(([file]) => file).sort()).toEqual([
      'approve-alternative.json',
      'certificate-warning.json',
      'closed-by-person.json',
      'continued-with-updates-run1.json',
      'continued-with-updates-run2.json',
      'continued-with-updates-run3.json',
      'eta-by-anyone-before-patch.json',
      'handover-before-patch.json',
      'handover.json',
      'happy-path-round-trip.json',
      'happy-path.json',
      'two-approvers.json',
      'unchecked-queue.json',
      'users-channel-down.json',
      'worker-lost-mid-fix.json',
    ]);
  });

  test.each(recordedHistories)('the current workflow code replays %s', async (_file, history) => {
    expect(history.events.length).toBeGreaterThan(30);
    await expect(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, RECORDED_WORKFLOW_ID),
    ).resolves.toBeUndefined();
  });

  test('the continued incident hands over at the approval wait, then at the confirmation wait', () => {
    const runs = recordedHistories.filter(([file]) => file.startsWith('continued-with-updates-'));
    const resumedAt = runs.map(([, history]) => {
      const data: string = history.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data ?? '';
      const input = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as IncidentInput;
      return input.carried?.resumeAt ?? 'fresh';
    });
    expect(resumedAt).toEqual(['fresh', 'awaiting-approval', 'awaiting-confirmations']);
    const ends = runs.map(([, history]) =>
      Object.keys(history.events.at(-1) ?? {}).find((key) => key.endsWith('Attributes')),
    );
    expect(ends).toEqual([
      'workflowExecutionContinuedAsNewEventAttributes',
      'workflowExecutionContinuedAsNewEventAttributes',
      'workflowExecutionCompletedEventAttributes',
    ]);
  });

  test('the worker-lost-mid-fix history ran its fix a second time, after a heartbeat timeout, behind its patch', () => {
    const [, history] = recordedHistories.find(([file]) => file === 'worker-lost-mid-fix.json') ?? [];
    const events: RecordedEvent[] = history.events;
    const patches = events.flatMap(({ markerRecordedEventAttributes: marker }) => {
      const data =
        marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0]?.data : undefined;
      return data ? [(JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id] : [];
    });
    expect(patches).toContain('remediation-survives-worker-loss');
    const fixScheduled = events.find(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'runRemediation',
    );
    const fixStarted = events.find(
      (event) => event.activityTaskStartedEventAttributes?.scheduledEventId === fixScheduled?.eventId,
    );
    expect(fixStarted?.activityTaskStartedEventAttributes).toMatchObject({
      attempt: 2,
      lastFailure: { timeoutFailureInfo: { timeoutType: 'TIMEOUT_TYPE_HEARTBEAT' } },
    });
  });

  test('a history recorded before continue-as-new replays even when it is longer than the history limit', async () => {
    const [, recorded] = recordedHistories.find(([file]) => file === 'happy-path.json') ?? [];
    const history = JSON.parse(JSON.stringify(recorded));
    const payload = history.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    const input = JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as IncidentInput;
    input.policies.historyEventLimit = 40;
    payload.data = Buffer.from(JSON.stringify(input)).toString('base64');
    expect(history.events.length).toBeGreaterThan(40);
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
