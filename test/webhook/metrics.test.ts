import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildWebhookServer, startWebhookServer } from '../../client/webhook/server';
import { incidentInputFor } from '../../config/incident-input';
import { createMailmendMetrics, type MailmendMetrics } from '../../platform/metrics';
import { lazyClient, localTemporalSettings } from '../../platform/temporal/connection';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId, PHASES, WORKFLOW_TYPE, type Phase } from '../../workflows/messages';
import { freePort } from '../support/processes';
import { startWebhookSink } from '../support/sinks';
import { uniqueServerId, useSharedTemporal } from '../support/temporal';
import { captureLogs, eventually, testConfig } from './support';

const temporal = useSharedTemporal();
const openApps: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(openApps.splice(0).map((app) => app.close()));
});

interface Harness {
  url: string;
  serverId: string;
  metrics: MailmendMetrics;
}

/** A listening webhook for one fresh server, with metrics the test can also read directly. */
async function harness(options: { client?: Client; metrics?: MailmendMetrics } = {}): Promise<Harness> {
  const serverId = uniqueServerId('mx');
  const loaded = testConfig([serverId]);
  const metrics = options.metrics ?? createMailmendMetrics();
  const app = buildWebhookServer({
    config: loaded.config,
    secrets: loaded.secrets,
    client: options.client ?? temporal.client,
    logger: captureLogs().logger,
    taskQueue: `metrics-test-${randomUUID()}`,
    metrics,
  });
  openApps.push(app);
  return { url: await startWebhookServer(app, '127.0.0.1', 0), serverId, metrics };
}

async function scrape(h: Harness): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(`${h.url}/metrics`);
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** The value of one sample line, e.g. `mailmend_incidents{phase="review"}`; undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every value of one label across a metric's samples, e.g. the `route`s of the latency histogram's counts. */
function labelValues(text: string, metric: string, label: string): string[] {
  const values = text
    .split('\n')
    .filter((line) => line.startsWith(`${metric}{`))
    .map((line) => new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '');
  return [...new Set(values)].sort();
}

/** Starts an incident that no worker runs, with the memo the workflow keeps, so it stays open in that phase. */
async function startIdleIncident(serverId: string, phase?: Phase): Promise<void> {
  const workflowId = incidentWorkflowId(serverId);
  temporal.terminateAfterTest(workflowId);
  await temporal.client.workflow.start<typeof mailOutageIncident>(WORKFLOW_TYPE, {
    workflowId,
    taskQueue: `metrics-no-worker-${randomUUID()}`,
    args: [incidentInputFor(testConfig([serverId]).config, serverId)],
    ...(phase ? { memo: { phase } } : {}),
  });
}

describe('GET /metrics', () => {
  test('serves every mailmend metric in Prometheus text format, without a bearer token', async () => {
    const h = await harness();
    h.metrics.alertsReceived.inc({ source: 'alertmanager' }, 3);
    h.metrics.alertsCollapsed.inc({ source: 'alertmanager' });
    h.metrics.alertsRefused.inc({ source: 'grafana', reason: 'unknown-server' }, 2);
    h.metrics.notifications.inc({ channel: 'ops-chat', audience: 'itTeam', outcome: 'failed' });

    const { status, contentType, text } = await scrape(h);

    expect(status).toBe(200);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sample(text, 'mailmend_alerts_received_total{source="alertmanager"}')).toBe(3);
    expect(sample(text, 'mailmend_alerts_collapsed_total{source="alertmanager"}')).toBe(1);
    expect(sample(text, 'mailmend_alerts_refused_total{source="grafana",reason="unknown-server"}')).toBe(2);
    expect(sample(text, 'mailmend_notifications_total{channel="ops-chat",audience="itTeam",outcome="failed"}')).toBe(1);
    expect(text).toContain('# TYPE mailmend_webhook_request_duration_seconds histogram');
    expect(text).toContain('# TYPE mailmend_incidents gauge');
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  test('times every request by route pattern, method and status, never by the requested URL', async () => {
    const h = await harness();
    await fetch(`${h.url}/healthz`);
    await fetch(`${h.url}/healthz?token=do-not-label-me`);
    await fetch(`${h.url}/incidents/${h.serverId}?token=do-not-label-me`);
    await fetch(`${h.url}/alerts/alertmanager?token=do-not-label-me`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not json',
    });
    await fetch(`${h.url}/no/such/${h.serverId}`);

    const text = await eventually(async () => {
      const scraped = (await scrape(h)).text;
      return sample(
        scraped,
        'mailmend_webhook_request_duration_seconds_count{route="unmatched",method="GET",status="404"}',
      )
        ? scraped
        : undefined;
    }, 'the 404 to be timed');

    const healthz = 'mailmend_webhook_request_duration_seconds_count{route="/healthz",method="GET",status="200"}';
    expect(sample(text, healthz)).toBe(2);
    expect(
      sample(
        text,
        'mailmend_webhook_request_duration_seconds_count{route="/incidents/:serverId",method="GET",status="404"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'mailmend_webhook_request_duration_seconds_count{route="/alerts/alertmanager",method="POST",status="400"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'mailmend_webhook_request_duration_seconds_bucket{le="10",route="/healthz",method="GET",status="200"}',
      ),
    ).toBe(2);
    expect(
      sample(text, 'mailmend_webhook_request_duration_seconds_sum{route="/healthz",method="GET",status="200"}'),
    ).toBeGreaterThan(0);
    expect(labelValues(text, 'mailmend_webhook_request_duration_seconds_count', 'route')).toEqual([
      '/alerts/alertmanager',
      '/healthz',
      '/incidents/:serverId',
      'unmatched',
    ]);
    expect(text).not.toContain('do-not-label-me');
    expect(text).not.toContain(h.serverId);
  });

  test('counts open incidents by the phase in their memo, and those without one as unknown', async () => {
    const h = await harness();
    const before = sample((await scrape(h)).text, 'mailmend_incidents{phase="awaiting-approval"}') ?? 0;
    const beforeUnknown = sample((await scrape(h)).text, 'mailmend_incidents{phase="unknown"}') ?? 0;
    await startIdleIncident(uniqueServerId('mx'), 'awaiting-approval');
    await startIdleIncident(uniqueServerId('mx'), 'awaiting-approval');
    await startIdleIncident(uniqueServerId('mx'));

    // Visibility is eventually consistent; other test files may open and close incidents meanwhile.
    const text = await eventually(async () => {
      const scraped = (await scrape(h)).text;
      const waiting = sample(scraped, 'mailmend_incidents{phase="awaiting-approval"}') ?? 0;
      const unknown = sample(scraped, 'mailmend_incidents{phase="unknown"}') ?? 0;
      return waiting >= before + 2 && unknown >= beforeUnknown + 1 ? scraped : undefined;
    }, 'the idle incidents to be counted by phase');

    expect(labelValues(text, 'mailmend_incidents', 'phase')).toEqual([...PHASES, 'unknown'].sort());
  });

  test('appends the SDK runtime metrics that the worker serves on loopback', async () => {
    const sdk = await startWebhookSink();
    try {
      sdk.reply.body = '# TYPE temporal_worker_task_slots_available gauge\ntemporal_worker_task_slots_available 100\n';
      const h = await harness({ metrics: createMailmendMetrics({ sdkMetricsAddress: `127.0.0.1:${sdk.port}` }) });

      const { status, text } = await scrape(h);

      expect(status).toBe(200);
      expect(sdk.requests.map((request) => request.path)).toEqual(['/metrics']);
      expect(sample(text, 'temporal_worker_task_slots_available')).toBe(100);
      expect(text).toContain('# TYPE mailmend_alerts_received_total counter');
    } finally {
      await sdk.close();
    }
  });

  test('answers 200 quickly with an empty incidents gauge while Temporal and the SDK exporter are down', async () => {
    const [temporalPort, sdkPort] = await Promise.all([freePort(), freePort()]);
    const unreachable = lazyClient(localTemporalSettings(`127.0.0.1:${temporalPort}`));
    try {
      const h = await harness({
        client: unreachable.client,
        metrics: createMailmendMetrics({ sdkMetricsAddress: `127.0.0.1:${sdkPort}` }),
      });
      h.metrics.alertsReceived.inc({ source: 'grafana' });

      const startedAt = Date.now();
      const { status, text } = await scrape(h);
      const elapsedMs = Date.now() - startedAt;

      expect(status).toBe(200);
      // Bounded by the 500 ms SDK scrape and the 1 s Temporal deadline, with room for a loaded machine.
      expect(elapsedMs).toBeLessThan(4_000);
      expect(sample(text, 'mailmend_alerts_received_total{source="grafana"}')).toBe(1);
      expect(text).toContain('# TYPE mailmend_incidents gauge');
      expect(text).not.toMatch(/^mailmend_incidents\{/m);
      expect(text).not.toContain('temporal_');
    } finally {
      await Promise.all(openApps.splice(0).map((app) => app.close()));
      await unreachable.close();
    }
  });
});
