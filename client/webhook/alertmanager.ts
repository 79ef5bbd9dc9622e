import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeSchemaIssue } from '../../platform/schema-issues';
import type { AlertPayload } from '../../workflows/messages';

// Unknown keys are dropped, not refused: senders add fields between releases, and mailmend reads only these.
const labelsSchema = z.record(z.string(), z.string());
const timestampSchema = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 timestamp' });

const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: labelsSchema,
  annotations: labelsSchema.default({}),
  startsAt: timestampSchema.optional(),
  endsAt: timestampSchema.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().optional(),
});

const groupFields = {
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupLabels: labelsSchema.optional(),
  commonLabels: labelsSchema.optional(),
  commonAnnotations: labelsSchema.optional(),
  externalURL: z.string().optional(),
  alerts: z.array(alertSchema).min(1, 'must hold at least one alert'),
};

/** Alertmanager's webhook_config body, version 4. */
export const alertmanagerWebhookSchema = z.object({ version: z.literal('4'), ...groupFields });
export type AlertmanagerWebhook = z.infer<typeof alertmanagerWebhookSchema>;

/** Grafana's webhook contact point body: Alertmanager's alerts[] shape, version 1, plus fields mailmend ignores. */
export const grafanaWebhookSchema = z.object({ version: z.literal('1'), ...groupFields });
export type GrafanaWebhook = z.infer<typeof grafanaWebhookSchema>;

export type AlertSource = Extract<AlertPayload['source'], 'alertmanager' | 'grafana'>;

export const webhookSchemas: Record<AlertSource, typeof alertmanagerWebhookSchema | typeof grafanaWebhookSchema> = {
  alertmanager: alertmanagerWebhookSchema,
  grafana: grafanaWebhookSchema,
};

/** One line per problem, `path: message`, so a sender's operator sees which field is wrong. */
export function describeSchemaIssues(error: z.ZodError): string {
  return error.issues.map(describeSchemaIssue).join('; ');
}

export interface MappedAlert {
  /** The value of the configured server label, or undefined when the alert lacks it. */
  serverLabelValue: string | undefined;
  alert: AlertPayload;
}

interface ToAlertPayloadsOptions {
  source: AlertSource;
  /** The label whose value names the mail server (`webhook.serverLabel`). */
  serverLabel: string;
  receivedAt?: Date;
}

// Descriptions can be pages long; the whole text stays in the monitoring system, the incident keeps a summary.
const MAX_SUMMARY_LENGTH = 1000;

/**
 * Turns a webhook body into mailmend alerts, one per alert in the batch, in order.
 *
 * @example
 * const body = alertmanagerWebhookSchema.parse(request.body);
 * for (const { serverLabelValue, alert } of toAlertPayloads(body, { source: 'alertmanager', serverLabel: 'server' })) {
 *   console.log(serverLabelValue, alert.alertName, alert.status);
 * }
 */
export function toAlertPayloads(
  webhook: AlertmanagerWebhook | GrafanaWebhook,
  options: ToAlertPayloadsOptions,
): MappedAlert[] {
  const receivedAt = (options.receivedAt ?? new Date()).toISOString();
  return webhook.alerts.map((alert) => {
    const summary = alert.annotations.summary ?? alert.annotations.description;
    const mailbox = alert.labels.mailbox;
    const payload: AlertPayload = {
      source: options.source,
      status: alert.status,
      // An empty alertname is a sender's slip, not a reason to refuse the alert.
      alertName: alert.labels.alertname?.trim() || 'unnamed alert',
      labels: { ...alert.labels },
      receivedAt,
      ...(alert.fingerprint ? { fingerprint: alert.fingerprint } : {}),
      ...(summary ? { summary: truncate(summary, MAX_SUMMARY_LENGTH) } : {}),
      ...(mailbox ? { mailbox } : {}),
      ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
    };
    return { serverLabelValue: alert.labels[options.serverLabel], alert: payload };
  });
}

function truncate(text: string, maxLength: number): string {
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 1)}…`;
}

export interface OutgoingAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  status?: 'firing' | 'resolved';
  fingerprint?: string;
}

/**
 * The Alertmanager webhook (version 4) payload for one alert, as Alertmanager would send it: what `mailmend drill`,
 * the benchmark and the tests post.
 *
 * @example await fetch(`${url}/alerts/alertmanager`, { method: 'POST', body: JSON.stringify(alertmanagerPayload({ labels: { server: 'mx1' } })) });
 */
export function alertmanagerPayload(alert: OutgoingAlert): AlertmanagerWebhook {
  const labels = { alertname: 'MailServiceDown', ...alert.labels };
  const status = alert.status ?? 'firing';
  return {
    version: '4',
    groupKey: `{}:{alertname="${labels.alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'mailmend',
    groupLabels: { alertname: labels.alertname },
    commonLabels: labels,
    commonAnnotations: alert.annotations ?? {},
    externalURL: 'http://alertmanager.invalid',
    alerts: [
      {
        status,
        labels,
        annotations: alert.annotations ?? {},
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.invalid',
        fingerprint: alert.fingerprint ?? randomUUID().replace(/-/g, '').slice(0, 16),
      },
    ],
  };
}
