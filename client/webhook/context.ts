import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { MailmendConfig } from '../../config/schema';
import type { MailmendMetrics } from '../../platform/metrics';
import type { AlertLanes } from './alert-lanes';
import type { TemporalDeadline } from './temporal-deadline';

/** What the webhook's routes share, settled once when the server is built. */
export interface WebhookContext {
  config: MailmendConfig;
  client: Client;
  logger: Logger;
  withinDeadline: TemporalDeadline;
  /** How long one request may wait for Temporal to accept its alerts (or answer a query). */
  signalTimeoutMs: number;
  /** How long `/healthz` waits for Temporal. */
  healthTimeoutMs: number;
  metrics: MailmendMetrics;
  /** Per-server queues that batch, order and collapse alerts before they are signalled. */
  alertLanes: AlertLanes;
  taskQueue?: string;
}
