import type { SendNotificationInput } from '../../workflows/activity-contract';
import { approveUpdate, confirmUpdate, rejectUpdate, setEtaUpdate, type Hypothesis } from '../../workflows/messages';
import { runTestIncident } from '../support/incident-runs';
import { waitForState } from '../support/incidents';
import { useSharedTemporal } from '../support/temporal';

const temporal = useSharedTemporal();

const to = (notifications: SendNotificationInput[], audience: string, kind?: string) =>
  notifications.filter(
    (sent) => sent.audience === audience && sent.channel !== 'ops-chat' && (!kind || sent.message.kind === kind),
  );

const NOT_RUNNING: Hypothesis = {
  cause: 'Postfix is not running',
  failureClass: 'not-running',
  source: 'test',
  evidenceFor: ['no master process'],
  evidenceAgainst: [],
  confidence: 0.9,
  actionId: 'start-postfix',
};

describe('what each notice asks and tells', () => {
  test('the IT team is asked to act only while something waits for it, and every audience learns the cause class', async () => {
    await runTestIncident(temporal, { fakes: { hypotheses: [NOT_RUNNING] } }, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      for (const outage of fakes.notifications.filter((sent) => sent.message.kind === 'outage')) {
        expect(outage.message.actionNeeded).toBeUndefined();
        expect(outage.message.checksPassed).toBeUndefined();
      }
      // The phase changes before the request is sent, so the test waits for the notice itself.
      const [request] = await until(() => to(fakes.notifications, 'itTeam', 'update'));
      expect(request?.message).toMatchObject({
        actionNeeded: {
          kind: 'approve',
          actionId: 'start-postfix',
          risk: 'low',
          required: 1,
          approvedBy: [],
        },
        causeClass: 'not-running',
      });

      await handle.executeUpdate(setEtaUpdate, { args: [{ by: 'alice', eta: '2030-01-01T10:00:00Z' }] });
      const [etaUpdate] = await until(() => to(fakes.notifications, 'users', 'update'));
      expect(etaUpdate?.message).toMatchObject({ etaChanged: true, eta: '2030-01-01T10:00:00.000Z' });
      expect(etaUpdate?.message.actionNeeded).toBeUndefined();

      await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      const checksPass = await until(() =>
        to(fakes.notifications, 'itTeam', 'update').filter((sent) => sent.message.phase === 'verification'),
      );
      expect(checksPass[0]?.message).toMatchObject({
        checksPassed: true,
        actionNeeded: { kind: 'confirm', required: 2, confirmedBy: [] },
      });
      // An ETA moved after the checks passed must not tell staff that email is still disrupted.
      await handle.executeUpdate(setEtaUpdate, { args: [{ by: 'bob', eta: '2030-01-01T11:00:00Z' }] });
      const afterChecks = await until(() =>
        to(fakes.notifications, 'users', 'update').filter((sent) => sent.message.eta === '2030-01-01T11:00:00.000Z'),
      );
      expect(afterChecks[0]?.message).toMatchObject({ checksPassed: true, etaChanged: true });
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'alice' }] });
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'bob' }] });
      await handle.result();
      for (const resolved of fakes.notifications.filter((sent) => sent.message.kind === 'resolved')) {
        expect(resolved.message.actionNeeded).toBeUndefined();
        expect(resolved.message.checksPassed).toBe(true);
        // Users heard of the latest ETA in their update; the IT team and management were last told an older one.
        expect(resolved.message.etaChanged).toBe(resolved.audience === 'users' ? undefined : true);
      }
    });
  });

  test('an escalation carries its cause: rejected', async () => {
    await runTestIncident(temporal, { policies: { maxRejections: 1 } }, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: 'not now' }] });
      expect((await handle.result()).outcome).toBe('escalated');
      const escalations = fakes.notifications.filter((sent) => sent.message.kind === 'escalation');
      expect(escalations.length).toBe(3);
      for (const sent of escalations) expect(sent.message.escalation).toBe('rejected');
    });
  });

  test('the same approval request is not sent again within the update interval; the skip is on the timeline', async () => {
    await runTestIncident(
      temporal,
      { policies: { maxRejections: 4, updateIntervalMs: 30_000 } },
      async (handle, fakes) => {
        await waitForState(handle, (state) => state.phase === 'awaiting-approval');
        for (let rejections = 1; rejections <= 3; rejections++) {
          await handle.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: `try ${rejections}` }] });
          await waitForState(handle, (state) => state.phase === 'awaiting-approval' && state.rejections === rejections);
        }
        const state = await waitForState(handle, () => true);
        expect(fakes.diagnoses).toHaveLength(4);
        expect(to(fakes.notifications, 'itTeam', 'update')).toHaveLength(1);
        const skips = state.timeline.filter((entry) => entry.event === 'notify itTeam');
        expect(skips).toHaveLength(3);
        expect(skips[0]?.outcome).toMatch(/^skipped: the same update went out at \d{4}-/);
      },
    );
  });
});

/** Waits for the notifications `pick` returns to include at least one. */
async function until(pick: () => SendNotificationInput[]): Promise<SendNotificationInput[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const picked = pick();
    if (picked.length > 0 || Date.now() > deadline) return picked;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
