import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { approveUpdate, confirmSignal, confirmUpdate, type IncidentState } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';
import { uniqueServerId, useSharedTemporal, withWorker } from '../support/temporal';

const temporal = useSharedTemporal();

/** What the Temporal UI's Send Signal dialog and careless scripts send: each must be recorded and ignored. */
const MALFORMED: [signal: string, payload: unknown, reason: RegExp][] = [
  ['approve', undefined, /must be a JSON object, got nothing/],
  ['approve', null, /must be a JSON object, got null/],
  ['approve', { by: { toString: 'alice' } }, /"by" must be text, got a object/],
  ['approve', { by: 5 }, /"by" must be text, got a number/],
  ['approve', {}, /"by" must be text, got nothing/],
  ['approve', { by: '   ' }, /"by" must not be empty/],
  ['approve', ['alice'], /must be a JSON object, got a list/],
  ['reject', { by: 'alice' }, /"reason" must be text, got nothing/],
  ['confirm', 'alice', /must be a JSON object, got a string/],
  ['note', { by: 'bob', text: 42 }, /"text" must be text, got a number/],
  ['setEta', { by: 'alice', eta: '5' }, /"eta" must be an ISO-8601 timestamp/],
  ['setEta', { by: 'alice', eta: '2001-01-01T00:00:00Z' }, /is in the past/],
  ['setEta', { by: 'carol', eta: '2099-01-01T00:00:00Z' }, /carol may not set the ETA: only listed approvers may/],
  ['approve', { by: 'mallory' }, /mallory is not a listed approver/],
  ['confirm', { by: 'alice' }, /nothing awaits confirmation/],
  ['alert', { source: 'alertmanager' }, /"status" must be "firing" or "resolved"/],
  ['alert', 17, /must be a JSON object, got a number/],
];

/** The decisions the CLI sends as Updates: each bad one is refused with its reason, and leaves no trace. */
const DECISIONS = new Set(['approve', 'reject', 'confirm', 'setEta']);

describe('malformed signals and Updates', () => {
  test('are recorded and ignored: the incident still answers its query and can be approved', async () => {
    const taskQueue = `test-${randomUUID()}`;
    const fakes = createFakeActivities();
    await withWorker(temporal.workerConnection, taskQueue, fakes.activities, async () => {
      const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(uniqueServerId('mx')));
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      for (const [signal, payload] of MALFORMED) await handle.signal(signal, payload);
      const ignored = (state: IncidentState) => state.timeline.filter((entry) => entry.event.endsWith(' ignored'));
      const afterBadInput = await waitForState(handle, (state) => ignored(state).length === MALFORMED.length);

      expect(afterBadInput.phase).toBe('awaiting-approval');
      expect(ignored(afterBadInput).map((entry) => [entry.event, entry.outcome])).toEqual(
        MALFORMED.map(([signal, , reason]) => [`${signal} ignored`, expect.stringMatching(reason)]),
      );
      expect(ignored(afterBadInput).map((entry) => entry.actor)).not.toContain('mailmend');
      expect(afterBadInput.eta).toBeUndefined();
      expect(afterBadInput.approvedBy).toBeUndefined();

      await handle.signal('approve', { by: 'alice', comment: 'after the noise' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'bob' });
      const final = await handle.result();
      expect(final.outcome).toBe('closed');
      expect(final.approvedBy).toBe('alice');
      expect(fakes.reports).toHaveLength(1);
    });
  });

  test('sent as Updates, each is refused with the reason; the incident still answers and is approved by Update', async () => {
    const taskQueue = `test-${randomUUID()}`;
    const fakes = createFakeActivities();
    await withWorker(temporal.workerConnection, taskQueue, fakes.activities, async () => {
      const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(uniqueServerId('mx')));
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      const decisions = MALFORMED.filter(([name]) => DECISIONS.has(name));
      for (const [name, payload, reason] of decisions) {
        const refusal = await handle.executeUpdate(name, { args: [payload] }).then(
          () => new Error(`${name} ${JSON.stringify(payload)} was accepted`),
          (error: unknown) => error,
        );
        expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((refusal as WorkflowUpdateFailedError).cause?.message).toMatch(reason);
      }
      const afterBadInput = await waitForState(handle, () => true);
      expect(afterBadInput.phase).toBe('awaiting-approval');
      expect(afterBadInput.timeline.filter((entry) => entry.event.endsWith(' ignored'))).toEqual([]);
      expect(afterBadInput.approvedBy).toBeUndefined();

      const receipt = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      expect(receipt).toEqual({ decision: 'approved', by: 'bob', actionId: 'start-postfix' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'alice' }] });
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'bob' }] });
      expect((await handle.result()).outcome).toBe('closed');
    });
  });

  test('an alert with an empty name is kept as "unnamed alert", and control characters never reach the timeline', async () => {
    const taskQueue = `test-${randomUUID()}`;
    const fakes = createFakeActivities();
    await withWorker(temporal.workerConnection, taskQueue, fakes.activities, async () => {
      const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(uniqueServerId('mx')));
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal('alert', {
        source: 'alertmanager',
        status: 'firing',
        alertName: '',
        summary: 'disk\u0000 full\u001b[31m',
        labels: { alertname: '', instance: 'mx\u0000' },
        receivedAt: new Date().toISOString(),
      });
      await handle.signal('note', { by: 'bob\u0000', text: 'line\u0007one' });
      const state = await waitForState(handle, (current) => current.timeline.some((entry) => entry.event === 'note'));

      expect(state.alerts.at(-1)).toMatchObject({ alertName: 'unnamed alert', labels: { instance: 'mx' } });
      expect(JSON.stringify(state.timeline)).not.toMatch(/\\u0000|\\u001b|\\u0007/);
      expect(state.timeline).toContainEqual(expect.objectContaining({ event: 'alert firing: unnamed alert' }));
      expect(state.timeline).toContainEqual(
        expect.objectContaining({ event: 'note', actor: 'bob', outcome: 'line one' }),
      );
      await handle.terminate('test over');
    });
  });
});
