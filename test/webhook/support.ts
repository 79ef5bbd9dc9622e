import type { AlertPayload } from '../../workflows/messages';
import { Writable } from 'node:stream';
import { defaultPayloadConverter, WorkflowNotFoundError, type Client } from '@temporalio/client';
import pino, { type Logger } from 'pino';
import { alertmanagerPayload } from '../../client/webhook/alertmanager';
import { parseConfig, type LoadedConfig } from '../../config/load';

export const WEBHOOK_TOKEN = 'test-webhook-token-5b1f';
export const CHAT_URL = 'https://chat.example.test/hooks/very-secret-path';

/** A config built like the real one, from a document and an env, with each server reachable under an alias too. */
export function testConfig(serverIds: string[], options: { bearerToken?: boolean } = {}): LoadedConfig {
  const channels = (name: string) => ({ channels: [{ name, type: 'webhook', url: { env: 'CHAT_URL' } }] });
  const document = {
    servers: serverIds.map((id) => ({
      id,
      aliases: [`${id}.example.test:9100`],
      smtp: { host: '127.0.0.1', port: 2525 },
      imap: { host: '127.0.0.1', port: 1143 },
    })),
    audiences: { itTeam: channels('ops-chat'), management: channels('mgmt-chat'), users: channels('users-chat') },
    approvers: ['alice', 'bob'],
    webhook: options.bearerToken ? { bearerToken: { env: 'MAILMEND_WEBHOOK_TOKEN' } } : {},
  };
  const env = { CHAT_URL, MAILMEND_WEBHOOK_TOKEN: WEBHOOK_TOKEN };
  return parseConfig(document, 'test config', env, __dirname);
}

interface CapturedLogger {
  logger: Logger;
  lines(): Record<string, unknown>[];
  text(): string;
}

/** A debug-level pino logger whose lines the test can read, to check what reaches the logs. */
export function captureLogs(): CapturedLogger {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

interface AlertOverrides {
  status?: 'firing' | 'resolved';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Nanosecond precision, as Alertmanager writes it; the tests check that it survives into the alert signal. */
const STARTS_AT = '2025-03-01T10:00:00.123456789Z';

/**
 * One Alertmanager batch holding `alerts`, each built by the product's `alertmanagerPayload` with a `MailServerDown`
 * name, a summary, a fixed start time and the fingerprint `fp<index>`.
 */
export function alertmanagerBody(alerts: AlertOverrides[], extra: Record<string, unknown> = {}) {
  const batch = alerts.flatMap(
    (alert, index) =>
      alertmanagerPayload({
        ...(alert.status ? { status: alert.status } : {}),
        labels: { alertname: 'MailServerDown', severity: 'critical', ...alert.labels },
        annotations: { summary: 'SMTP probe failing', ...alert.annotations },
        fingerprint: `fp${index}`,
      }).alerts,
  );
  return {
    ...alertmanagerPayload({ labels: { alertname: 'MailServerDown' } }),
    status: batch.some((alert) => alert.status === 'firing') ? ('firing' as const) : ('resolved' as const),
    alerts: batch.map((alert) => ({ ...alert, startsAt: STARTS_AT })),
    ...extra,
  };
}

export function grafanaBody(alerts: AlertOverrides[]) {
  return {
    ...alertmanagerBody(alerts),
    version: '1',
    orgId: 1,
    title: '[FIRING:1] MailServerDown',
    state: 'alerting',
    message: 'mail is down',
    alerts: alertmanagerBody(alerts).alerts.map((alert) => ({
      ...alert,
      silenceURL: 'http://grafana.example.test/alerting/silence/new',
      dashboardURL: '',
      panelURL: '',
      values: { B: 1 },
      valueString: "[ var='B' labels={} value=1 ]",
    })),
  };
}

interface SignalSeen {
  name: string;
  args: unknown[];
}

/** The signals in a workflow's history, decoded, in the order Temporal recorded them. */
export async function signalsOf(client: Client, workflowId: string): Promise<SignalSeen[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const attributes = event.workflowExecutionSignaledEventAttributes;
    if (!attributes) return [];
    const args = (attributes.input?.payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload(payload));
    return [{ name: attributes.signalName ?? '', args }];
  });
}

/** The alerts of each `alerts` signal the workflow received, batch by batch. */
export async function alertBatchesOf(client: Client, workflowId: string): Promise<AlertPayload[][]> {
  const signals = await signalsOf(client, workflowId);
  return signals
    .filter((signal) => signal.name === 'alerts')
    .map((signal) => (signal.args[0] as { alerts: AlertPayload[] }).alerts);
}

/** The first argument the workflow was started with. */
export async function startInputOf(client: Client, workflowId: string): Promise<unknown> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
}

export async function workflowExists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** Polls until `probe` returns a value, or fails with what it last saw. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  describe: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe}`, { cause: lastError });
}
