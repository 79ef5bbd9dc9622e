import { ApplicationFailure } from '@temporalio/common';
import nodemailer from 'nodemailer';
import pino from 'pino';
import { createNotifyActivities, type NotifyDeps, type ResolvedChannel } from '../../activities/notify';
import { loadMessageTemplates } from '../../activities/templates/catalog';
import { FailureType } from '../../workflows/failure-types';
import type { AudienceName, IncidentStepContext, NotificationMessage } from '../../workflows/messages';
import { startSmtpSink, startWebhookSink, type ReceivedMail } from '../support/sinks';

const templates = loadMessageTemplates({ locale: 'en', timeZone: 'UTC' });

const RELAY_PASSWORD = 'relay-pa55word-do-not-print';
const WEBHOOK_TOKEN = 'T0000-B0000-xoxb-webhook-token';

const context: IncidentStepContext = { incidentId: 'incident-mx1-7f3a', serverId: 'mx1', step: 'notification' };

const outage: NotificationMessage = {
  kind: 'outage',
  incidentId: 'incident-mx1-7f3a',
  serverId: 'mx1',
  severity: 'critical',
  scope: 'all-users',
  phase: 'notification',
  openedAt: '2024-05-01T09:15:00.000Z',
  eta: '2024-05-01T11:00:00.000Z',
};

/** Collects every log line, so tests can show a secret never reached the logs. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

/** Everything Temporal would record about a failure: the messages and stacks of the whole cause chain. */
function failureChainText(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) {
    parts.push(current.message, current.stack ?? '');
  }
  return parts.join('\n');
}

async function startMailSink() {
  const sink = await startSmtpSink({ auth: { user: 'mailmend', pass: RELAY_PASSWORD }, refusePrefix: 'refused@' });
  const transport = nodemailer.createTransport({
    host: sink.host,
    port: sink.port,
    secure: false,
    ignoreTLS: true,
    auth: { user: 'mailmend', pass: RELAY_PASSWORD },
  });
  return {
    received: sink.received,
    transport,
    close: async () => {
      transport.close();
      await sink.close();
    },
  };
}

async function startTokenWebhookSink() {
  const sink = await startWebhookSink();
  return { ...sink, sink: sink.reply, url: sink.urlFor(`/services/${WEBHOOK_TOKEN}`) };
}

describe('sendNotification by email', () => {
  let mail: Awaited<ReturnType<typeof startMailSink>>;
  let deps: NotifyDeps;
  let logLines: string[];

  beforeAll(async () => {
    mail = await startMailSink();
  });
  afterAll(() => mail.close());
  beforeEach(() => {
    const { logger, lines } = capturingLogger();
    logLines = lines;
    deps = {
      channels: [
        { audience: 'users', name: 'staff-list', type: 'email', to: ['staff@example.org'] },
        { audience: 'itTeam', name: 'ops-mail', type: 'email', to: ['ops@example.org', 'oncall@example.org'] },
        { audience: 'management', name: 'board', type: 'email', to: ['board@example.org'] },
        { audience: 'management', name: 'bounces', type: 'email', to: ['refused@example.org'] },
      ],
      mailer: { transport: mail.transport, from: 'mailmend <mailmend@example.org>' },
      webhookTimeoutMs: 1_000,
      templates,
      logger,
    };
    mail.received.length = 0;
  });

  it('sends each audience its own wording, tagged with the incident and the audience', async () => {
    const { sendNotification } = createNotifyActivities(deps);
    const sends: [AudienceName, string][] = [
      ['users', 'staff-list'],
      ['itTeam', 'ops-mail'],
      ['management', 'board'],
    ];
    for (const [audience, channel] of sends) {
      const record = await sendNotification({ context, audience, channel, message: outage });
      expect(record).toEqual({ channel, audience, kind: 'outage', sentAt: expect.any(String), ok: true });
      expect(Number.isNaN(Date.parse(record.sentAt))).toBe(false);
    }

    expect(mail.received.map((message) => message.envelopeTo)).toEqual([
      ['staff@example.org'],
      ['ops@example.org', 'oncall@example.org'],
      ['board@example.org'],
    ]);
    const [users, itTeam, management] = mail.received as [ReceivedMail, ReceivedMail, ReceivedMail];
    for (const [message, audience] of [
      [users, 'users'],
      [itTeam, 'itTeam'],
      [management, 'management'],
    ] as const) {
      expect(message.headers.get('x-mailmend-audience')).toBe(audience);
      expect(message.headers.get('x-mailmend-incident')).toBe('incident-mx1-7f3a');
      expect(message.headers.get('from')).toBe('"mailmend" <mailmend@example.org>');
    }
    expect(users.headers.get('to')).toBe('staff@example.org');
    expect(itTeam.headers.get('to')).toBe('ops@example.org, oncall@example.org');

    expect(users.headers.get('subject')).toBe('Email disruption');
    expect(users.text).toContain('Email is not working for anyone');
    expect(users.text).toContain('We expect email to work normally again by Wednesday, 1 May 2024 at 11:00 (UTC).');
    expect(users.text).not.toContain('incident-mx1-7f3a');
    expect(users.text).not.toContain('mx1');

    expect(itTeam.headers.get('subject')).toBe(
      '[mailmend] mx1 outage: mail service down (critical, all users) incident-mx1-7f3a',
    );
    expect(itTeam.text).toContain('Incident: incident-mx1-7f3a');
    expect(itTeam.text).not.toContain('incidents approve');

    expect(management.headers.get('subject')).toBe('Email disruption on mx1 (critical)');
    expect(management.text).toContain('Business impact: Nobody in the organisation');
    expect(management.text).not.toContain('incidents approve');

    expect(logLines.join('')).not.toContain(RELAY_PASSWORD);
  });

  it('does not retry a recipient the relay refuses for good', async () => {
    const { sendNotification } = createNotifyActivities(deps);
    const failure = await sendNotification({
      context,
      audience: 'management',
      channel: 'bounces',
      message: outage,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: FailureType.NotificationRejected,
      nonRetryable: true,
      message: 'the relay refused email channel "bounces" for management with SMTP 550',
    });
    expect((failure as Error).cause).toMatchObject({ responseCode: 550 });
    expect(failureChainText(failure)).not.toContain(RELAY_PASSWORD);
    expect(logLines.join('')).not.toContain(RELAY_PASSWORD);
    expect(mail.received).toHaveLength(0);
  });

  it('refuses an email channel when no relay is configured', async () => {
    const { sendNotification } = createNotifyActivities({ ...deps, mailer: undefined });
    const failure = await sendNotification({
      context,
      audience: 'users',
      channel: 'staff-list',
      message: outage,
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ type: FailureType.UnknownNotificationChannel, nonRetryable: true });
  });
});

describe('sendNotification by webhook', () => {
  let webhook: Awaited<ReturnType<typeof startTokenWebhookSink>>;
  let logLines: string[];
  let sendNotification: ReturnType<typeof createNotifyActivities>['sendNotification'];

  function activitiesFor(channel: ResolvedChannel, webhookTimeoutMs = 2_000) {
    const { logger, lines } = capturingLogger();
    logLines = lines;
    return createNotifyActivities({ channels: [channel], webhookTimeoutMs, templates, logger }).sendNotification;
  }

  function expectNoSecret(failure: unknown) {
    expect(failureChainText(failure)).not.toContain(WEBHOOK_TOKEN);
    expectNoSecretInLogs();
  }

  function expectNoSecretInLogs() {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(WEBHOOK_TOKEN);
  }

  beforeEach(async () => {
    webhook = await startTokenWebhookSink();
    sendNotification = activitiesFor({ audience: 'itTeam', name: 'ops-chat', type: 'webhook', url: webhook.url });
  });
  afterEach(() => webhook.close());

  it('posts the rendered text and the incident facts as JSON', async () => {
    const record = await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage });

    expect(record).toEqual({
      channel: 'ops-chat',
      audience: 'itTeam',
      kind: 'outage',
      sentAt: expect.any(String),
      ok: true,
    });
    expect(webhook.requests).toEqual([
      {
        path: `/services/${WEBHOOK_TOKEN}`,
        contentType: 'application/json',
        body: {
          text: expect.stringMatching(
            /^\[mailmend\] mx1 outage: .*\n\nMail service on mx1 failed its checks\.\n\nIncident: incident-mx1-7f3a\n/,
          ),
          mailmend: {
            kind: 'outage',
            audience: 'itTeam',
            incidentId: 'incident-mx1-7f3a',
            serverId: 'mx1',
            severity: 'critical',
            scope: 'all-users',
            phase: 'notification',
            eta: '2024-05-01T11:00:00.000Z',
          },
        },
      },
    ]);
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({
        incidentId: 'incident-mx1-7f3a',
        serverId: 'mx1',
        step: 'notification',
        msg: 'notification sent',
      }),
    );
    expectNoSecretInLogs();
  });

  it('does not retry a message the chat service rejects with 400', async () => {
    webhook.sink.status = 400;
    webhook.sink.body = 'invalid_payload';
    const failure = await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: FailureType.NotificationRejected,
      nonRetryable: true,
      message: 'webhook channel "ops-chat" for itTeam answered HTTP 400: invalid_payload',
    });
    expectNoSecret(failure);
  });

  it.each([429, 503])('leaves HTTP %i to the retry policy', async (status) => {
    webhook.sink.status = status;
    webhook.sink.body = `try again, ${WEBHOOK_TOKEN} is busy`;
    const failure = await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(ApplicationFailure);
    expect((failure as Error).message).toBe(
      `webhook channel "ops-chat" for itTeam answered HTTP ${status}: try again, <webhook url> is busy`,
    );
    expectNoSecret(failure);
  });

  it('leaves an unreachable webhook to the retry policy, without printing its URL', async () => {
    const url = webhook.url;
    await webhook.close();
    webhook = await startTokenWebhookSink();
    sendNotification = activitiesFor({ audience: 'itTeam', name: 'ops-chat', type: 'webhook', url });
    const failure = await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage }).catch(
      (error: unknown) => error,
    );
    expect(failure).not.toBeInstanceOf(ApplicationFailure);
    expect((failure as Error).message).toBe('webhook channel "ops-chat" for itTeam was not reached');
    expect(failureChainText(failure)).toContain('ECONNREFUSED');
    expectNoSecret(failure);
  });

  it('gives up on a webhook that does not answer within the timeout', async () => {
    webhook.sink.hang = true;
    sendNotification = activitiesFor({ audience: 'itTeam', name: 'ops-chat', type: 'webhook', url: webhook.url }, 300);
    const failure = await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage }).catch(
      (error: unknown) => error,
    );
    expect((failure as Error).message).toBe('webhook channel "ops-chat" for itTeam was not reached');
    expect((failure as Error).cause).toMatchObject({ name: 'TimeoutError' });
    expectNoSecret(failure);
  });

  it('keeps a malformed URL out of the error it causes', async () => {
    sendNotification = activitiesFor({
      audience: 'itTeam',
      name: 'ops-chat',
      type: 'webhook',
      url: `::${WEBHOOK_TOKEN}`,
    });
    const failure = await sendNotification({ context, audience: 'itTeam', channel: 'ops-chat', message: outage }).catch(
      (error: unknown) => error,
    );
    expect((failure as Error).message).toBe('webhook channel "ops-chat" for itTeam was not reached');
    expect(failureChainText(failure)).toContain('<webhook url>');
    expectNoSecret(failure);
  });

  it('refuses a channel the audience does not have', async () => {
    const failure = await sendNotification({ context, audience: 'users', channel: 'ops-chat', message: outage }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: FailureType.UnknownNotificationChannel,
      nonRetryable: true,
      message: 'no notification channel "ops-chat" for users',
    });
    expect(webhook.requests).toHaveLength(0);
  });
});
