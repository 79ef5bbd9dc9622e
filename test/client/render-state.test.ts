import { renderIncidentState } from '../../client/cli/render';
import type { IncidentState } from '../../workflows/messages';

const base: IncidentState = {
  incidentId: 'incident-mx',
  serverId: 'mx',
  phase: 'escalated',
  severity: 'minor',
  scope: 'unknown',
  openedAt: '2026-11-29T10:00:00.000Z',
  remediations: [],
  confirmations: [],
  confirmationsRequired: 2,
  rejections: 0,
  verificationAttempts: 0,
  alerts: [],
  alertsReceived: 1,
  notifications: [],
  timeline: [],
};

describe('incidents show', () => {
  test('names each check the assessment could not make, and why', () => {
    const reason = 'SSH to 10.0.0.5:22 accepted the connection but did not finish its handshake within 10 s';
    const state: IncidentState = {
      ...base,
      assessment: {
        serverId: 'mx',
        checkedAt: base.openedAt,
        tcpSmtp: { ok: true, latencyMs: 1, detail: 'connected' },
        smtp: { ok: true, latencyMs: 1, detail: '220 mx ESMTP' },
        imap: { ok: true, latencyMs: 1, detail: '* OK' },
        unchecked: [{ check: 'deferred-queue', reason }],
      },
    };
    const shown = renderIncidentState(state, new Date('2026-11-29T10:05:00.000Z'));
    expect(shown).toMatch(/scope:\s+unknown/);
    expect(shown).toContain(`not checked:    deferred-queue: ${reason}`);
  });

  test('says where the review is when its report could not be written', () => {
    const state: IncidentState = {
      ...base,
      unwrittenReview: {
        responseTimes: {} as never,
        review: { rootCause: 'x', responseTimeSufficient: 'y', prevention: [] },
      },
    };
    expect(renderIncidentState(state, new Date())).toMatch(
      /report:\s+not written: the review is in the workflow result/,
    );
  });
});
