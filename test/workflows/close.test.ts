import { approveUpdate, closeUpdate, type CloseSignal } from '../../workflows/messages';
import { runTestIncident, type IncidentHandle } from '../support/incident-runs';
import { phasesVisited, refusalOf, waitForState } from '../support/incidents';
import { useSharedTemporal } from '../support/temporal';

const temporal = useSharedTemporal();

const closeAs = (handle: IncidentHandle, closing: CloseSignal) =>
  handle.executeUpdate(closeUpdate, { args: [closing] });

describe('closing an incident by hand', () => {
  test('an approver closes an incident awaiting approval: IT and management hear why, the review is written', async () => {
    await runTestIncident(temporal, {}, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      expect(await refusalOf(closeAs(handle, { by: 'mallory', reason: 'done' }))).toBe(
        'mallory is not a listed approver',
      );
      expect(await refusalOf(closeAs(handle, { by: 'alice', reason: '  ' }))).toBe(
        'bad payload: "reason" must not be empty',
      );
      const receipt = await closeAs(handle, { by: 'alice', reason: 'fixed by hand' });
      expect(receipt).toEqual({ decision: 'closed', by: 'alice', reason: 'fixed by hand' });

      const final = await handle.result();
      expect(final).toMatchObject({
        phase: 'closed',
        outcome: 'closed',
        outcomeReason: 'closed by alice: fixed by hand',
      });
      expect(phasesVisited(final).slice(-3)).toEqual(['awaiting-approval', 'review', 'closed']);
      expect(fakes.remediations).toEqual([]);
      expect(fakes.reports).toHaveLength(1);
      const closedNotices = fakes.notifications.filter((sent) => sent.message.kind === 'closed');
      expect(closedNotices.map((sent) => `${sent.audience}/${sent.channel}`).sort()).toEqual([
        'itTeam/ops-chat',
        'itTeam/ops-mail',
        'management/mgmt-mail',
        // Users were told of the outage, and so were promised word when it ends.
        'users/users-mail',
      ]);
      for (const sent of closedNotices) {
        expect(sent.message).toMatchObject({ closedBy: 'alice', reason: 'fixed by hand' });
      }
      expect(fakes.notifications.some((sent) => sent.message.kind === 'resolved')).toBe(false);
    });
  });

  test('a close during the confirmation wait stops it, with no resolution notice', async () => {
    await runTestIncident(temporal, {}, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);

      await closeAs(handle, { by: 'bob', reason: 'users confirmed by phone' });
      const final = await handle.result();
      expect(final.outcomeReason).toBe('closed by bob: users confirmed by phone');
      expect(phasesVisited(final).slice(-3)).toEqual(['verification', 'review', 'closed']);
      expect(fakes.remediations).toEqual(['start-postfix']);
      expect(fakes.notifications.filter((sent) => sent.message.kind === 'closed')).toHaveLength(4);
      expect(fakes.notifications.some((sent) => sent.message.kind === 'resolved')).toBe(false);
    });
  });
});
