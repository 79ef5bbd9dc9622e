import { randomUUID } from 'node:crypto';
import {
  approveSignal,
  confirmSignal,
  NO_CATALOG_ACTION,
  noteSignal,
  PHASES,
  rejectSignal,
  setEtaSignal,
  type IncidentPolicies,
} from '../../workflows/messages';
import { createFakeActivities, type FakeActivityOptions } from '../support/fake-activities';
import { raiseTestIncident, testAlert, testInput, waitForState, phasesVisited } from '../support/incidents';
import { uniqueServerId, useSharedTemporal, withWorker } from '../support/temporal';

const temporal = useSharedTemporal();

interface Scenario {
  serverId: string;
  taskQueue: string;
  fakes: ReturnType<typeof createFakeActivities>;
}

/** Runs one incident against its own worker and task queue, so tests never share state. */
async function withIncidentWorker(
  options: FakeActivityOptions,
  body: (scenario: Scenario) => Promise<void>,
): Promise<Scenario> {
  const scenario: Scenario = {
    serverId: uniqueServerId('mx'),
    taskQueue: `test-${randomUUID()}`,
    fakes: createFakeActivities(options),
  };
  await withWorker(temporal.workerConnection, scenario.taskQueue, scenario.fakes.activities, () => body(scenario));
  return scenario;
}

function startIncident({ serverId, taskQueue }: Scenario, policies: Partial<IncidentPolicies> = {}) {
  return raiseTestIncident(temporal.client, taskQueue, testInput(serverId, policies));
}

describe('mailOutageIncident', () => {
  test('happy path runs every SOP phase in order and closes', async () => {
    await withIncidentWorker({}, async (scenario) => {
      const handle = await startIncident(scenario);
      const awaiting = await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      expect(awaiting.severity).toBe('major');
      expect(awaiting.scope).toBe('one-protocol');
      expect(awaiting.pendingApproval).toMatchObject({ actionId: 'start-postfix', approvers: ['alice', 'bob'] });

      await handle.signal(setEtaSignal, { by: 'alice', eta: '2030-01-01T10:00:00Z' });
      await handle.signal(approveSignal, { by: 'alice', comment: 'go' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'carol' });
      const final = await handle.result();

      expect(final.phase).toBe('closed');
      expect(final.outcome).toBe('closed');
      expect(phasesVisited(final)).toEqual(PHASES.slice(0, PHASES.indexOf('closed') + 1));
      expect(final.confirmations.map((confirmation) => confirmation.by)).toEqual(['alice', 'carol']);
      expect(final.approvedBy).toBe('alice');
      expect(final.eta).toBe('2030-01-01T10:00:00.000Z');
      expect(scenario.fakes.remediations).toEqual(['start-postfix']);
      const kinds = scenario.fakes.notifications.map((sent) => `${sent.audience}/${sent.channel}/${sent.message.kind}`);
      for (const expected of [
        'itTeam/ops-mail/outage',
        'itTeam/ops-chat/outage',
        'management/mgmt-mail/outage',
        'users/users-mail/outage',
      ]) {
        expect(kinds).toContain(expected);
      }
      for (const expected of [
        'itTeam/ops-mail/resolved',
        'management/mgmt-mail/resolved',
        'users/users-mail/resolved',
      ]) {
        expect(kinds).toContain(expected);
      }
      const resolved = scenario.fakes.notifications.find((sent) => sent.message.kind === 'resolved');
      expect(resolved?.message.rootCause).toContain('Postfix is not running');
      expect(resolved?.message.actionsTaken).toEqual(['start-postfix (exit 0)']);
      expect(final.report?.markdownPath).toContain(final.incidentId);
      expect(scenario.fakes.reports).toHaveLength(1);
      for (const entry of final.timeline) {
        expect(entry.at).toMatch(/^\d{4}-\d\d-\d\dT/);
        expect(entry.actor).toBeTruthy();
      }
    });
  });

  test('a healthy server is a false alarm: IT is told and the review is written', async () => {
    await withIncidentWorker({ host: { smtpUp: true, imapUp: true } }, async (scenario) => {
      const final = await (await startIncident(scenario)).result();
      expect(final.phase).toBe('false-alarm');
      expect(final.outcome).toBe('false-alarm');
      expect(scenario.fakes.notifications.map((sent) => `${sent.audience}/${sent.message.kind}`)).toEqual([
        'itTeam/false-alarm',
        'itTeam/false-alarm',
      ]);
      expect(scenario.fakes.remediations).toEqual([]);
      expect(scenario.fakes.reports).toHaveLength(1);
    });
  });

  test('an alert naming one mailbox is scoped to a single user', async () => {
    await withIncidentWorker({ host: { smtpUp: true, imapUp: true }, recommendedAction: 'none' }, async (scenario) => {
      const handle = await raiseTestIncident(
        temporal.client,
        scenario.taskQueue,
        testInput(scenario.serverId),
        testAlert({ mailbox: 'carol@example.com' }),
      );
      const final = await handle.result();
      expect(final.scope).toBe('single-user');
      expect(final.severity).toBe('minor');
      expect(final.outcome).toBe('escalated');
      expect(final.outcomeReason).toContain('no catalog action fits');
    });
  });

  test('a rejection sends the procedure back to troubleshooting once', async () => {
    await withIncidentWorker({}, async (scenario) => {
      const handle = await startIncident(scenario);
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(rejectSignal, { by: 'bob', reason: 'restart during business hours is risky' });
      await waitForState(handle, (state) => state.phase === 'awaiting-approval' && state.rejections === 1);
      expect(scenario.fakes.diagnoses).toHaveLength(2);
      expect(scenario.fakes.remediations).toEqual([]);
      await handle.signal(approveSignal, { by: 'bob' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'bob' });
      const final = await handle.result();
      expect(final.outcome).toBe('closed');
      expect(final.rejections).toBe(1);
    });
  });

  test('a second rejection escalates to people', async () => {
    await withIncidentWorker({}, async (scenario) => {
      const handle = await startIncident(scenario);
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(rejectSignal, { by: 'bob', reason: 'not now' });
      await waitForState(handle, (state) => state.phase === 'awaiting-approval' && state.rejections === 1);
      await handle.signal(rejectSignal, { by: 'alice', reason: 'wrong fix' });
      const final = await handle.result();
      expect(final.phase).toBe('escalated');
      expect(final.outcomeReason).toBe('the fix was rejected 2 times, last by alice');
      expect(scenario.fakes.remediations).toEqual([]);
      const escalations = scenario.fakes.notifications.filter((sent) => sent.message.kind === 'escalation');
      expect(escalations.map((sent) => sent.audience).sort()).toEqual(['itTeam', 'itTeam', 'management']);
    });
  });

  test('a fix mailmend cannot run is handed over at once, with the commands to run by hand, and nobody approves', async () => {
    const handover = {
      reason: 'mailmend cannot run start-postfix: SSH to mx:22 failed (connect ECONNREFUSED)',
      suggestedCommands: ["'postfix' '-c' '/etc/postfix' 'check'", "'postfix' '-c' '/etc/postfix' 'start'"],
    };
    await withIncidentWorker({ recommendedAction: NO_CATALOG_ACTION, handover }, async (scenario) => {
      const final = await (await startIncident(scenario)).result();

      const expectedReason =
        'Nothing listens on the SMTP port: Postfix is not running. ' +
        'mailmend cannot run start-postfix: SSH to mx:22 failed (connect ECONNREFUSED); to run by hand on the host: ' +
        "'postfix' '-c' '/etc/postfix' 'check' && 'postfix' '-c' '/etc/postfix' 'start'";
      expect(final).toMatchObject({ outcome: 'escalated', outcomeReason: expectedReason });
      expect(phasesVisited(final)).not.toContain('awaiting-approval');
      expect(scenario.fakes.remediations).toEqual([]);
      const escalations = scenario.fakes.notifications.filter((sent) => sent.message.kind === 'escalation');
      expect(escalations.length).toBeGreaterThan(0);
      for (const sent of escalations) expect(sent.message.reason).toBe(expectedReason);
    });
  });

  test('a failed verification loops back to troubleshooting', async () => {
    await withIncidentWorker({ failedFixes: 1 }, async (scenario) => {
      const handle = await startIncident(scenario);
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(approveSignal, { by: 'alice' });
      const second = await waitForState(
        handle,
        (state) => state.phase === 'awaiting-approval' && state.verificationAttempts === 1,
      );
      expect(second.verification?.smtp.ok).toBe(false);
      await handle.signal(approveSignal, { by: 'alice' });
      await waitForState(
        handle,
        (state) =>
          state.phase === 'verification' && state.verificationAttempts === 2 && state.verification?.smtp.ok === true,
      );
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'bob' });
      const final = await handle.result();
      expect(final.outcome).toBe('closed');
      expect(scenario.fakes.remediations).toEqual(['start-postfix', 'start-postfix']);
    });
  });

  test('verification failing on every attempt escalates', async () => {
    await withIncidentWorker({ failedFixes: 5 }, async (scenario) => {
      const handle = await startIncident(scenario, { maxVerificationAttempts: 2 });
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(approveSignal, { by: 'alice' });
      await waitForState(handle, (state) => state.phase === 'awaiting-approval' && state.verificationAttempts === 1);
      await handle.signal(approveSignal, { by: 'alice' });
      const final = await handle.result();
      expect(final.outcome).toBe('escalated');
      expect(final.outcomeReason).toBe('verification failed 2 times');
    });
  });

  test('a non-approver is recorded and ignored', async () => {
    await withIncidentWorker({}, async (scenario) => {
      const handle = await startIncident(scenario);
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(approveSignal, { by: 'mallory' });
      await handle.signal(noteSignal, { by: 'alice', text: 'looking at it' });
      const state = await waitForState(handle, (current) => current.timeline.some((entry) => entry.event === 'note'));
      expect(state.phase).toBe('awaiting-approval');
      expect(state.approvedBy).toBeUndefined();
      expect(state.timeline).toContainEqual(
        expect.objectContaining({
          actor: 'mallory',
          event: 'approve ignored',
          outcome: 'mallory is not a listed approver',
        }),
      );
      expect(scenario.fakes.remediations).toEqual([]);
      await handle.terminate('test finished');
    });
  });

  test('duplicate alerts join the one open incident, and a resent alert is held once', async () => {
    await withIncidentWorker({}, async (scenario) => {
      const first = await startIncident(scenario);
      const second = await raiseTestIncident(
        temporal.client,
        scenario.taskQueue,
        testInput(scenario.serverId),
        testAlert({ alertName: 'ImapDown', status: 'resolved' }),
      );
      expect(second.signaledRunId).toBe(first.signaledRunId);
      const state = await waitForState(first, (current) => current.alerts.length === 2);
      expect(state.alerts.map((alert) => `${alert.alertName}/${alert.status}`)).toEqual([
        'MailServerDown/firing',
        'ImapDown/resolved',
      ]);
      expect(state.phase).not.toBe('closed');
      const resent = testAlert({ alertName: 'ImapDown', fingerprint: 'f00d', startsAt: '2026-01-01T00:00:00Z' });
      await raiseTestIncident(temporal.client, scenario.taskQueue, testInput(scenario.serverId), resent);
      await raiseTestIncident(temporal.client, scenario.taskQueue, testInput(scenario.serverId), {
        ...resent,
        receivedAt: 'later',
      });
      const afterResend = await waitForState(first, (current) => current.alerts.length === 3);
      expect(afterResend.alerts.filter((alert) => alert.fingerprint === 'f00d')).toHaveLength(1);
      await first.terminate('test finished');
    });
  });
});
