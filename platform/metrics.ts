import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The name of the gauge of open incidents by phase, which the webhook registers because only it holds a client. */
export const INCIDENTS_GAUGE = 'mailmend_incidents';

/** Every metric mailmend serves on `GET /metrics`, in a registry of its own so tests and embedders never collide. */
export interface MailmendMetrics {
  registry: Registry;
  alertsReceived: Counter<'source'>;
  /** Alerts not signalled because an identical one was queued, in flight or signalled within the collapse window. */
  alertsCollapsed: Counter<'source'>;
  /** `reason` is e.g. `unknown-server`, `no-server-label`, `malformed-body`. */
  alertsRefused: Counter<'source' | 'reason'>;
  /** `route` is the route's pattern (`/incidents/:serverId`), never the requested URL. */
  webhookLatency: Histogram<'route' | 'method' | 'status'>;
  /** `outcome` is `sent` or `failed`. */
  notifications: Counter<'channel' | 'audience' | 'outcome'>;
  /** Where the Temporal SDK's runtime serves its own Prometheus metrics (`127.0.0.1:9464`), when this process has one. */
  sdkMetricsAddress?: string;
}

export interface MailmendMetricsOptions {
  /** The `host:port` given to the SDK runtime's Prometheus exporter; `/metrics` appends what it serves. */
  sdkMetricsAddress?: string;
}

/**
 * Creates the counters and histograms that the webhook and the activities share, plus the process's default metrics.
 *
 * @example
 * const metrics = createMailmendMetrics();
 * metrics.alertsReceived.inc({ source: 'alertmanager' });
 */
export function createMailmendMetrics(options: MailmendMetricsOptions = {}): MailmendMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    alertsReceived: new Counter({
      name: 'mailmend_alerts_received_total',
      help: 'Alerts received by the webhook, by source.',
      labelNames: ['source'],
      registers,
    }),
    alertsCollapsed: new Counter({
      name: 'mailmend_alerts_collapsed_total',
      help: 'Alerts not signalled because an identical one was queued, in flight or signalled within the collapse window.',
      labelNames: ['source'],
      registers,
    }),
    alertsRefused: new Counter({
      name: 'mailmend_alerts_refused_total',
      help: 'Alerts refused by the webhook, by source and reason.',
      labelNames: ['source', 'reason'],
      registers,
    }),
    webhookLatency: new Histogram({
      name: 'mailmend_webhook_request_duration_seconds',
      help: 'Time the webhook took to answer a request, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      // 1 ms to 10 s: a health check answers in about a millisecond, an alert waits for Temporal up to its deadline.
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    notifications: new Counter({
      name: 'mailmend_notifications_total',
      help: 'Notifications the worker sent or failed to send, by channel, audience and outcome.',
      labelNames: ['channel', 'audience', 'outcome'],
      registers,
    }),
    ...(options.sdkMetricsAddress ? { sdkMetricsAddress: options.sdkMetricsAddress } : {}),
  };
}
