import pino from 'pino';
import { createNotifyActivities } from '../../activities/notify';
import { loadMessageTemplates } from '../../activities/templates/catalog';
import { createMailmendMetrics, type MailmendMetrics } from '../../platform/metrics';
import type { IncidentStepContext, NotificationMessage } from '../../workflows/messages';
import { startWebhookSink } from '../support/sinks';

const context: IncidentStepContext = { incidentId: 'incident-mx1-9c21', serverId: 'mx1', step: 'notification' };

const outage: NotificationMessage = {
  kind: 'outage',
  incidentId: 'incident-mx1-9c21',
  serverId: 'mx1',
  severity: 'critical',
  scope: 'all-users',
  phase: 'notification',
  openedAt: '2024-05-01T09:15:00.000Z',
};

/** The counter's series as `channel/audience/outcome` → value, so a test states every series it expects. */
async function notificationCounts(metrics: MailmendMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.notifications.get();
  return Object.fromEntries(
    values.map(({ labels, value }) => [`${labels.channel}/${labels.audience}/${labels.outcome}`, value]),
  );
}

describe('sendNotification counts into mailmend_notifications_total', () => {
  let chat: Awaited<ReturnType<typeof startWebhookSink>>;
  let metrics: MailmendMetrics;
  let sendNotification: ReturnType<typeof createNotifyActivities>['sendNotification'];

  beforeEach(async () => {
    chat = await startWebhookSink();
    metrics = createMailmendMetrics();
    sendNotification = createNotifyActivities({
      channels: [
        { audience: 'itTeam', name: 'ops-chat', type: 'webhook', url: chat.urlFor('/hooks/ops') },
        { audience: 'users', name: 'staff-list', type: 'email', to: ['staff@example.org'] },
      ],
      webhookTimeoutMs: 2_000,
      templates: loadMessageTemplates({ locale: 'en', timeZone: 'UTC' }),
      logger: pino({ level: 'silent' }),
      metrics,
    }).sendNotification;
  });
  afterEach(() => chat.close());

  it('counts a delivered message as sent, per channel and audience', async () => {
    await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage });
    await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage });

    expect(await notificationCounts(metrics)).toEqual({ 'ops-chat/itTeam/sent': 2 });
    expect(await metrics.registry.metrics()).toContain(
      'mailmend_notifications_total{channel="ops-chat",audience="itTeam",outcome="sent"} 2',
    );
  });

  it('counts every failed attempt as failed, and still throws it for the retry policy', async () => {
    chat.reply.status = 503;

    await expect(
      sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage }),
    ).rejects.toThrow('webhook channel "ops-chat" for itTeam answered HTTP 503: ok');
    chat.reply.status = 200;
    await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage });
    // No relay is configured, so the email channel fails without sending.
    await expect(
      sendNotification({ context, audience: 'users', channel: 'staff-list', message: outage }),
    ).rejects.toThrow('needs a fallbackRelay');

    expect(await notificationCounts(metrics)).toEqual({
      'ops-chat/itTeam/failed': 1,
      'ops-chat/itTeam/sent': 1,
      'staff-list/users/failed': 1,
    });
  });

  it('does not count a channel that is not configured: nothing was attempted', async () => {
    await expect(
      sendNotification({ context, audience: 'management', channel: 'ops-chat', message: outage }),
    ).rejects.toThrow('no notification channel "ops-chat" for management');

    expect(await notificationCounts(metrics)).toEqual({});
  });
});
