import {
  approveSignal,
  confirmSignal,
  NO_CATALOG_ACTION,
  type CertificateSummary,
  type Hypothesis,
} from '../../workflows/messages';
import { runTestIncident } from '../support/incident-runs';
import { waitForState } from '../support/incidents';
import { useSharedTemporal } from '../support/temporal';

const temporal = useSharedTemporal();

function hypothesis(cause: string, actionId: string, confidence: number): Hypothesis {
  return {
    cause,
    failureClass: 'test',
    source: 'test',
    evidenceFor: [`evidence for ${cause}`],
    evidenceAgainst: [],
    confidence,
    actionId,
  };
}

const RANKED: Hypothesis[] = [
  hypothesis('Postfix is not running', 'start-postfix', 0.6),
  hypothesis('The queue directory is not writable by Postfix', 'postfix-set-permissions', 0.5),
  hypothesis('The port is held by another process', NO_CATALOG_ACTION, 0.4),
  hypothesis('Something unlikely', 'restart-postfix', 0.1),
];

describe('ranked hypotheses at approval', () => {
  test('the approval request shows the top three hypotheses to the IT team', async () => {
    await runTestIncident(temporal, { fakes: { hypotheses: RANKED } }, async (handle, fakes) => {
      const awaiting = await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      expect(awaiting.pendingApproval?.hypotheses).toEqual(
        RANKED.slice(0, 3).map(({ cause, confidence, actionId }) => ({ cause, confidence, actionId })),
      );
      const request = fakes.notifications.find(
        (sent) => sent.audience === 'itTeam' && sent.message.phase === 'awaiting-approval',
      );
      expect(request?.message.hypotheses?.map((offered) => offered.actionId)).toEqual([
        'start-postfix',
        'postfix-set-permissions',
        NO_CATALOG_ACTION,
      ]);
      await handle.terminate('test over');
    });
  });

  test('an approver may ask for another offered hypothesis, and once another approves, that action runs', async () => {
    await runTestIncident(temporal, { fakes: { hypotheses: RANKED } }, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(approveSignal, { by: 'bob', actionId: 'postfix-set-permissions' });
      await waitForState(handle, (state) =>
        state.timeline.some((entry) => entry.event === 'requested another action' && entry.actor === 'bob'),
      );
      await handle.signal(approveSignal, { by: 'alice', actionId: 'postfix-set-permissions' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'bob' });
      const final = await handle.result();
      expect(final.outcome).toBe('closed');
      expect(fakes.remediations).toEqual(['postfix-set-permissions']);
      expect(final.diagnosis?.rootCause).toBe('The queue directory is not writable by Postfix');
      expect(final.timeline).toContainEqual(
        expect.objectContaining({ event: 'approved', outcome: 'postfix-set-permissions', actor: 'alice' }),
      );
      const resolved = fakes.notifications.find((sent) => sent.message.kind === 'resolved');
      expect(resolved?.message.rootCause).toBe('The queue directory is not writable by Postfix');
    });
  });

  test('choosing an action that was not offered, or a handover, is recorded and ignored', async () => {
    await runTestIncident(temporal, { fakes: { hypotheses: RANKED } }, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(approveSignal, { by: 'alice', actionId: 'restart-postfix' });
      await handle.signal(approveSignal, { by: 'alice', actionId: NO_CATALOG_ACTION });
      const ignored = await waitForState(
        handle,
        (state) => state.timeline.filter((entry) => entry.event === 'approve ignored').length === 2,
      );
      expect(ignored.phase).toBe('awaiting-approval');
      expect(
        ignored.timeline.filter((entry) => entry.event === 'approve ignored').map((entry) => entry.outcome),
      ).toEqual([
        'restart-postfix is not among the offered actions (start-postfix, postfix-set-permissions)',
        `${NO_CATALOG_ACTION} is not among the offered actions (start-postfix, postfix-set-permissions)`,
      ]);
      expect(fakes.remediations).toEqual([]);
      await handle.terminate('test over');
    });
  });
});

describe('certificate expiry on a healthy server', () => {
  const expiring: CertificateSummary = {
    service: 'smtp',
    subject: 'CN=mx.example.org',
    issuer: 'CN=Example CA',
    validTo: '2030-01-10T00:00:00.000Z',
    daysLeft: 6,
  };

  test('is a false alarm that warns the IT team with the date', async () => {
    await runTestIncident(
      temporal,
      { fakes: { host: { smtpUp: true }, certificateWarnings: [expiring] } },
      async (handle, fakes) => {
        const final = await handle.result();
        expect(final.outcome).toBe('false-alarm');
        const warnings = fakes.notifications.filter((sent) => sent.message.kind === 'certificate-expiry');
        expect(warnings.map((sent) => sent.audience)).toEqual(['itTeam', 'itTeam']);
        expect(warnings[0]?.message.certificates).toEqual([expiring]);
        expect(fakes.notifications.some((sent) => sent.audience === 'users')).toBe(false);
      },
    );
  });

  test('without warnings no certificate notice is sent', async () => {
    await runTestIncident(temporal, { fakes: { host: { smtpUp: true } } }, async (handle, fakes) => {
      expect((await handle.result()).outcome).toBe('false-alarm');
      expect(fakes.notifications.some((sent) => sent.message.kind === 'certificate-expiry')).toBe(false);
    });
  });
});
