import { ApplicationFailure } from '@temporalio/common';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { MailmendMetrics } from '../platform/metrics';
import { FailureType } from '../workflows/failure-types';
import type { AudienceName, NotificationRecord } from '../workflows/messages';
import { stepLogger } from './logging';
import type { MessageTemplates, RenderedNotification } from './templates/catalog';
import type { SendNotificationInput } from '../workflows/activity-contract';

export type ResolvedChannel =
  | { audience: AudienceName; name: string; type: 'email'; to: string[] }
  /** The URL carries the chat service's token, so it is a secret. */
  | { audience: AudienceName; name: string; type: 'webhook'; url: string };

export interface NotifyDeps {
  channels: readonly ResolvedChannel[];
  /** Absent when no fallback relay is configured; email channels then cannot be used. */
  mailer?: { transport: Transporter; from: string };
  webhookTimeoutMs: number;
  /** Every audience's wording, in the configured language and time zone. */
  templates: Pick<MessageTemplates, 'renderNotification'>;
  logger: Logger;
  /** Counts every delivery attempt; absent where nothing serves the counts. */
  metrics?: Pick<MailmendMetrics, 'notifications'>;
}

/** Webhook answers that may succeed if sent again; every other 4xx means the chat service refuses the message. */
const RETRYABLE_CLIENT_STATUSES = new Set([408, 429]);

/** How much of a webhook's error body is kept: enough to read the service's reason. */
const RESPONSE_EXCERPT_CHARS = 200;

const REDACTED_URL = '<webhook url>';

export function createNotifyActivities(deps: NotifyDeps) {
  return {
    /** Sends one incident message to one audience's channel, worded for that audience. */
    async sendNotification(input: SendNotificationInput): Promise<NotificationRecord> {
      const { audience, message } = input;
      const log = stepLogger(deps.logger, input.context).child({
        audience,
        channel: input.channel,
        kind: message.kind,
      });
      const channel = deps.channels.find(
        (candidate) => candidate.audience === audience && candidate.name === input.channel,
      );
      if (!channel) {
        throw ApplicationFailure.create({
          type: FailureType.UnknownNotificationChannel,
          nonRetryable: true,
          message: `no notification channel "${input.channel}" for ${audience}`,
        });
      }
      const rendered = deps.templates.renderNotification(audience, message);
      const delivery =
        channel.type === 'email'
          ? sendEmail(deps, channel, input, rendered, log)
          : postWebhook(deps, channel, input, rendered, log);
      await countOutcome(deps, channel, delivery);
      return { channel: channel.name, audience, kind: message.kind, sentAt: new Date().toISOString(), ok: true };
    },
  };
}

/** Every attempt is counted, so a channel that keeps failing shows before the workflow runs out of retries. */
async function countOutcome(deps: NotifyDeps, channel: ResolvedChannel, delivery: Promise<void>): Promise<void> {
  const labels = { channel: channel.name, audience: channel.audience };
  try {
    await delivery;
  } catch (error) {
    deps.metrics?.notifications.inc({ ...labels, outcome: 'failed' });
    throw error;
  }
  deps.metrics?.notifications.inc({ ...labels, outcome: 'sent' });
}

type EmailChannel = Extract<ResolvedChannel, { type: 'email' }>;
type WebhookChannel = Extract<ResolvedChannel, { type: 'webhook' }>;

async function sendEmail(
  deps: NotifyDeps,
  channel: EmailChannel,
  { audience, message }: SendNotificationInput,
  { subject, text }: RenderedNotification,
  log: Logger,
): Promise<void> {
  if (!deps.mailer) {
    throw ApplicationFailure.create({
      type: FailureType.UnknownNotificationChannel,
      nonRetryable: true,
      message: `email channel "${channel.name}" for ${audience} needs a fallbackRelay, and none is configured`,
    });
  }
  try {
    const info = (await deps.mailer.transport.sendMail({
      from: deps.mailer.from,
      to: channel.to,
      subject,
      text,
      headers: { 'X-Mailmend-Incident': message.incidentId, 'X-Mailmend-Audience': audience },
    })) as { messageId?: string };
    log.info({ type: 'email', recipients: channel.to.length, messageId: info.messageId }, 'notification sent');
  } catch (error) {
    const responseCode = (error as { responseCode?: unknown }).responseCode;
    // A permanent SMTP reply (5xx) will be the same on every attempt, so retrying would only delay the escalation.
    if (typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600) {
      log.warn({ type: 'email', responseCode }, 'relay refused the notification');
      throw ApplicationFailure.create({
        type: FailureType.NotificationRejected,
        nonRetryable: true,
        message: `the relay refused email channel "${channel.name}" for ${audience} with SMTP ${responseCode}`,
        cause: error as Error,
      });
    }
    log.warn({ type: 'email', code: (error as NodeJS.ErrnoException).code, responseCode }, 'email not sent');
    throw error;
  }
}

async function postWebhook(
  deps: NotifyDeps,
  channel: WebhookChannel,
  { audience, message }: SendNotificationInput,
  { subject, text }: RenderedNotification,
  log: Logger,
): Promise<void> {
  const { kind, incidentId, serverId, severity, scope, phase, eta } = message;
  const body = {
    text: `${subject}\n\n${text}`,
    mailmend: { kind, audience, incidentId, serverId, severity, scope, phase, eta },
  };
  const described = `webhook channel "${channel.name}" for ${audience}`;
  let response: Response;
  try {
    response = await fetch(channel.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(deps.webhookTimeoutMs),
    });
  } catch (error) {
    const cause = withoutSecret(error, channel.url);
    log.warn({ type: 'webhook', error: cause.message }, 'webhook not reached');
    throw new Error(`${described} was not reached`, { cause });
  }
  if (response.ok) {
    await response.body?.cancel();
    log.info({ type: 'webhook', status: response.status }, 'notification sent');
    return;
  }
  const excerpt = redact((await response.text().catch(() => '')).slice(0, RESPONSE_EXCERPT_CHARS), channel.url);
  const answered = `${described} answered HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`;
  log.warn({ type: 'webhook', status: response.status }, 'webhook refused the notification');
  if (response.status >= 400 && response.status < 500 && !RETRYABLE_CLIENT_STATUSES.has(response.status)) {
    throw ApplicationFailure.create({ type: FailureType.NotificationRejected, nonRetryable: true, message: answered });
  }
  throw new Error(answered);
}

/** Long enough to be a token rather than a word such as `services` or `webhooks`. */
const TOKEN_MIN_CHARS = 16;

/**
 * The parts of a webhook URL that must not be printed: the whole URL, its path and query, and every long path
 * segment or query value, because services put their token there and may echo it back on its own.
 */
function secretParts(url: string): string[] {
  const parts = [url];
  try {
    const { pathname, search, searchParams } = new URL(url);
    if (pathname.length > 1 || search) parts.push(`${pathname}${search}`);
    const pieces = [...pathname.split('/').map((segment) => decodeURIComponent(segment)), ...searchParams.values()];
    parts.push(...pieces.filter((piece) => piece.length >= TOKEN_MIN_CHARS));
  } catch {
    // An unparsable URL is only ever printed whole, which the first part already covers.
  }
  return parts;
}

function redact(text: string, url: string): string {
  return secretParts(url).reduce((redacted, part) => redacted.split(part).join(REDACTED_URL), text);
}

/**
 * Copies an error chain with the URL taken out of every message and stack. fetch errors can quote the URL
 * (e.g. "Failed to parse URL from ..."), and Temporal would carry it into history and the UI.
 */
function withoutSecret(error: unknown, url: string): Error {
  // Duck-typed: fetch errors come from another realm under some runners, and DOMException is no native error.
  const original: Partial<Error> & { code?: unknown } =
    typeof error === 'object' && error !== null ? error : { message: String(error) };
  const cause = original.cause === undefined ? undefined : withoutSecret(original.cause, url);
  const copy: Error & { code?: unknown } = new Error(
    redact(String(original.message ?? ''), url),
    cause === undefined ? undefined : { cause },
  );
  if (typeof original.name === 'string') copy.name = original.name;
  copy.stack = typeof original.stack === 'string' ? redact(original.stack, url) : undefined;
  if (original.code !== undefined) copy.code = original.code;
  return copy;
}
