import { randomUUID } from 'node:crypto';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { incidentInputFor } from '../../config/incident-input';
import { connectClient, lazyClient, localTemporalSettings } from '../../platform/temporal/connection';
import type { AcceptedAlert } from '../../client/webhook/server';
import { startEmbeddedServer } from '../../platform/temporal/dev-server';
import { incidentWorkflowId, type AlertPayload, type IncidentState } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { freePort } from '../support/processes';
import { temporalExecutable, terminateIfRunning, useSharedTemporal, withWorker } from '../support/temporal';
import {
  alertmanagerBody,
  CHAT_URL,
  eventually,
  grafanaBody,
  signalsOf,
  alertBatchesOf,
  startInputOf,
  WEBHOOK_TOKEN,
  workflowExists,
} from './support';
import { closeOpenApps, get, harness, postJson, serverOf } from './harness';

const temporal = useSharedTemporal();

afterEach(closeOpenApps);

describe('POST /alerts/alertmanager', () => {
  test('answers 202 after Temporal holds the incident, started with the input and signalled with the alert', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);

    const response = await postJson(
      h,
      '/alerts/alertmanager',
      alertmanagerBody([
        { labels: { server: serverId, mailbox: 'ceo@example.test' }, annotations: { description: 'long text' } },
      ]),
    );

    expect(response.statusCode).toBe(202);
    const { accepted } = response.json<{ accepted: AcceptedAlert[] }>();
    expect(accepted).toEqual([
      { serverId, workflowId: incidentWorkflowId(serverId), runId: expect.any(String), delivered: 'opened-or-joined' },
    ]);

    const description = await temporal.client.workflow.getHandle(incidentWorkflowId(serverId)).describe();
    expect(description).toMatchObject({
      type: 'mailOutageIncident',
      taskQueue: h.taskQueue,
      runId: accepted[0]?.runId,
      status: { name: 'RUNNING' },
    });
    expect(await startInputOf(temporal.client, incidentWorkflowId(serverId))).toEqual(
      incidentInputFor(h.deps.config, serverId),
    );
    const signals = await signalsOf(temporal.client, incidentWorkflowId(serverId));
    expect(signals).toHaveLength(1);
    expect(signals[0]?.name).toBe('alerts');
    expect((await alertBatchesOf(temporal.client, incidentWorkflowId(serverId)))[0]?.[0]).toEqual({
      source: 'alertmanager',
      status: 'firing',
      alertName: 'MailServerDown',
      fingerprint: 'fp0',
      summary: 'SMTP probe failing',
      mailbox: 'ceo@example.test',
      labels: { alertname: 'MailServerDown', severity: 'critical', server: serverId, mailbox: 'ceo@example.test' },
      startsAt: '2025-03-01T10:00:00.123456789Z',
      receivedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    } satisfies AlertPayload);

    const alertLog = h.logs.lines().find((line) => line.msg === 'alert signalled');
    expect(alertLog).toMatchObject({ serverId, incidentId: incidentWorkflowId(serverId), alertName: 'MailServerDown' });
  });

  test('a repeat within the collapse window is counted, not signalled; a resolved alert joins the open incident', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);

    const first = await postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: serverId } }]));
    const second = await postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: serverId } }]));
    const resolved = await postJson(
      h,
      '/alerts/alertmanager',
      alertmanagerBody([{ status: 'resolved', labels: { server: serverId } }]),
    );

    expect([first.statusCode, second.statusCode, resolved.statusCode]).toEqual([202, 202, 202]);
    const firstRun = first.json<{ accepted: AcceptedAlert[] }>().accepted[0]?.runId;
    expect(firstRun).toBeDefined();
    expect(second.json<{ accepted: AcceptedAlert[] }>().accepted[0]).toMatchObject({
      runId: firstRun,
      collapsed: true,
    });
    expect(resolved.json<{ accepted: AcceptedAlert[] }>().accepted[0]?.delivered).toBe('joined');
    const batches = await alertBatchesOf(temporal.client, incidentWorkflowId(serverId));
    expect(batches.map((alerts) => alerts.map((alert) => alert.status))).toEqual([['firing'], ['resolved']]);
  });

  test('a resolved alert with no open incident is accepted but opens nothing', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);

    const response = await postJson(
      h,
      '/alerts/alertmanager',
      alertmanagerBody([{ status: 'resolved', labels: { server: serverId } }]),
    );

    expect(response.statusCode).toBe(202);
    expect(response.json<{ accepted: AcceptedAlert[] }>().accepted).toEqual([
      { serverId, workflowId: incidentWorkflowId(serverId), delivered: 'no-open-incident' },
    ]);
    await expect(temporal.client.workflow.getHandle(incidentWorkflowId(serverId)).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });

  test('one batch for two servers, one named by an alias, signals each incident in order', async () => {
    const h = await harness(temporal, { servers: 2 });
    const [mx1, mx2] = [serverOf(h, 0), serverOf(h, 1)];

    const response = await postJson(
      h,
      '/alerts/alertmanager',
      alertmanagerBody([
        { labels: { server: mx1 } },
        { labels: { server: `${mx2}.example.test:9100` } },
        { status: 'resolved', labels: { server: mx1 } },
      ]),
    );

    expect(response.statusCode).toBe(202);
    expect(response.json<{ accepted: AcceptedAlert[] }>().accepted.map((item) => item.serverId)).toEqual([
      mx1,
      mx2,
      mx1,
    ]);
    const mx1Batches = await alertBatchesOf(temporal.client, incidentWorkflowId(mx1));
    expect(mx1Batches.flat().map((alert) => alert.status)).toEqual(['firing', 'resolved']);
    expect(mx1Batches).toHaveLength(1);
    expect(await signalsOf(temporal.client, incidentWorkflowId(mx2))).toHaveLength(1);
  });

  test('400 with the parser reason for malformed JSON, and for an empty body', async () => {
    const h = await harness(temporal);

    const malformed = await postJson(h, '/alerts/alertmanager', '{"version": "4", "alerts": [');
    const empty = await postJson(h, '/alerts/alertmanager', '');

    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toEqual({ error: 'malformed JSON', reason: expect.stringContaining('not valid JSON') });
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toEqual({ error: 'malformed JSON', reason: 'the body is empty, expected JSON' });
    expect(await workflowExists(temporal.client, incidentWorkflowId(serverOf(h)))).toBe(false);
  });

  test('400 naming the field when the body is JSON but not an Alertmanager payload', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);
    const body = alertmanagerBody([{ labels: { server: serverId } }]);

    const badStatus = await postJson(h, '/alerts/alertmanager', {
      ...body,
      alerts: [{ ...body.alerts[0], status: 'burning' }],
    });
    const wrongVersion = await postJson(h, '/alerts/alertmanager', { ...body, version: '3' });
    const grafanaOnAlertmanagerRoute = await postJson(
      h,
      '/alerts/alertmanager',
      grafanaBody([{ labels: { server: serverId } }]),
    );

    expect(badStatus.statusCode).toBe(400);
    expect(badStatus.json()).toEqual({
      error: 'not a alertmanager webhook payload',
      reason: expect.stringContaining('alerts[0].status: '),
    });
    expect(wrongVersion.statusCode).toBe(400);
    expect(wrongVersion.json<{ reason: string }>().reason).toMatch(/^version: .*"4"/);
    expect(grafanaOnAlertmanagerRoute.statusCode).toBe(400);
    expect(await workflowExists(temporal.client, incidentWorkflowId(serverId))).toBe(false);
  });

  test('an alert for an unknown server is refused in the answer, and the valid alerts of its batch are signalled', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);

    const mixed = await postJson(
      h,
      '/alerts/alertmanager',
      alertmanagerBody([
        { labels: { server: 'mx-nowhere' } },
        { labels: { server: serverId, alertname: '' } },
        { labels: { instance: 'mx1:9100' } },
      ]),
    );

    expect(mixed.statusCode).toBe(202);
    expect(mixed.json()).toEqual({
      accepted: [expect.objectContaining({ serverId, workflowId: incidentWorkflowId(serverId) })],
      refused: [
        { alertName: 'MailServerDown', reason: 'alert MailServerDown: server="mx-nowhere" names no configured server' },
        { alertName: 'MailServerDown', reason: 'alert MailServerDown has no "server" label' },
      ],
    });
    const batches = await alertBatchesOf(temporal.client, incidentWorkflowId(serverId));
    expect(batches).toEqual([[expect.objectContaining({ alertName: 'unnamed alert' })]]);
  });

  test('422 naming the label value when no alert of the batch names a configured server', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);

    const unknown = await postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: 'mx-nowhere' } }]));
    const missingLabel = await postJson(
      h,
      '/alerts/alertmanager',
      alertmanagerBody([{ labels: { instance: 'mx1:9100' } }]),
    );

    expect(unknown.statusCode).toBe(422);
    expect(unknown.json()).toEqual({
      error: 'alert names no configured mail server',
      reason: 'alert MailServerDown: server="mx-nowhere" names no configured server',
    });
    expect(missingLabel.statusCode).toBe(422);
    expect(missingLabel.json<{ reason: string }>().reason).toBe('alert MailServerDown has no "server" label');
    const typo = await postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: `${serverId}x` } }]));
    expect(typo.json<{ reason: string }>().reason).toBe(
      `alert MailServerDown: server="${serverId}x" names no configured server; did you mean "${serverId}"?`,
    );
    expect(await workflowExists(temporal.client, incidentWorkflowId(serverId))).toBe(false);
  });

  test('401 without the bearer token or with a wrong one; the token never reaches the logs', async () => {
    const h = await harness(temporal, { bearerToken: true });
    const serverId = serverOf(h);
    const body = alertmanagerBody([{ labels: { server: serverId } }]);

    const missing = await postJson(h, '/alerts/alertmanager', body);
    const wrong = await postJson(h, '/alerts/alertmanager', body, { authorization: `Bearer ${WEBHOOK_TOKEN}x` });
    const wrongScheme = await postJson(h, '/alerts/alertmanager', body, {
      authorization: `Basic ${WEBHOOK_TOKEN}`,
    });
    expect([missing.statusCode, wrong.statusCode, wrongScheme.statusCode]).toEqual([401, 401, 401]);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await workflowExists(temporal.client, incidentWorkflowId(serverId))).toBe(false);

    // Some senders can only put a token in the URL; it is refused like any missing header, and never logged.
    const inQuery = await postJson(h, `/alerts/alertmanager?token=${WEBHOOK_TOKEN}`, body);
    expect(inQuery.statusCode).toBe(401);
    expect(h.logs.text()).toContain('"route":"/alerts/alertmanager"');

    const right = await postJson(h, '/alerts/alertmanager', body, { authorization: `Bearer ${WEBHOOK_TOKEN}` });
    expect(right.statusCode).toBe(202);
    expect(h.logs.text()).not.toContain(WEBHOOK_TOKEN);
    expect(h.logs.text()).not.toContain(CHAT_URL);
  });

  test('a body of about 1 MiB is accepted; one above the configured limit gets 413', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);
    const bulk = 'x'.repeat(1024 * 1024);

    const largeBody = JSON.stringify(
      alertmanagerBody([{ labels: { server: serverId }, annotations: { runbook: bulk } }]),
    );
    const large = await postJson(h, '/alerts/alertmanager', largeBody);
    const tooLarge = await postJson(
      h,
      '/alerts/alertmanager',
      alertmanagerBody([{ labels: { server: serverId } }], {
        padding: 'x'.repeat(h.deps.config.webhook.bodyLimitBytes),
      }),
    );

    expect(Buffer.byteLength(largeBody)).toBeGreaterThanOrEqual(1024 * 1024);
    expect(large.statusCode).toBe(202);
    expect(tooLarge.statusCode).toBe(413);
  });
});

describe('when Temporal refuses for another reason', () => {
  test('500 without detail for the sender, and the cause in the log', async () => {
    const wrongNamespace = new Client({
      connection: temporal.client.connection,
      namespace: `no-such-namespace-${randomUUID()}`,
    });
    const h = await harness(temporal, { client: wrongNamespace });
    const serverId = serverOf(h);

    const response = await postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: serverId } }]));

    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: 'internal error' });
    const failure = h.logs.lines().find((line) => line.msg === 'Temporal call failed');
    expect(failure).toMatchObject({ serverId, err: { type: 'NamespaceNotFoundError' } });
  });
});

describe('POST /alerts/grafana', () => {
  test('accepts Grafana version 1 bodies with their extra fields', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);

    const response = await postJson(h, '/alerts/grafana', grafanaBody([{ labels: { server: serverId } }]));

    expect(response.statusCode).toBe(202);
    const batches = await alertBatchesOf(temporal.client, incidentWorkflowId(serverId));
    expect(batches[0]?.[0]).toMatchObject({ source: 'grafana', alertName: 'MailServerDown', status: 'firing' });
  });
});

describe('when Temporal is unreachable', () => {
  test('503 with Retry-After within the deadline from a lazy client pointed at a closed port', async () => {
    const port = await freePort();
    const unreachable = lazyClient(localTemporalSettings(`127.0.0.1:${port}`));
    try {
      const h = await harness(temporal, { client: unreachable.client, signalTimeoutMs: 1_000 });
      const serverId = serverOf(h);

      const startedAt = Date.now();
      const response = await postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: serverId } }]));
      const elapsedMs = Date.now() - startedAt;
      const state = await get(h, `/incidents/${serverId}`);
      const health = await get(h, '/healthz');

      expect(response.statusCode).toBe(503);
      expect(response.headers.get('retry-after')).toBe('15');
      expect(response.json()).toEqual({
        error: 'Temporal is unavailable',
        reason: 'Temporal did not answer within 1000 ms',
      });
      expect(elapsedMs).toBeLessThan(1_500);
      expect(state.statusCode).toBe(503);
      expect(health.statusCode).toBe(503);
      expect(health.json()).toEqual({ ok: false, temporal: 'down' });
      expect(h.logs.lines().find((line) => line.msg === 'Temporal is unavailable')).toMatchObject({ serverId });
    } finally {
      await closeOpenApps();
      await unreachable.close();
    }
  });

  test('503 once a dev server that accepted alerts has stopped', async () => {
    const devServer = await startEmbeddedServer({ executable: temporalExecutable() });
    let stopped = false;
    const ownTemporal = await connectClient(localTemporalSettings(devServer.address));
    try {
      const h = await harness(temporal, { client: ownTemporal.client, signalTimeoutMs: 1_500 });
      const serverId = serverOf(h);
      const body = alertmanagerBody([{ labels: { server: serverId } }]);

      const whileUp = await postJson(h, '/alerts/alertmanager', body);
      expect(whileUp.statusCode).toBe(202);
      const healthWhileUp = await get(h, '/healthz');
      expect(healthWhileUp.statusCode).toBe(200);
      expect(healthWhileUp.json()).toEqual({ ok: true, temporal: 'up' });

      await devServer.stop();
      stopped = true;
      // A new alert: a repeat of the first would be collapsed into it, which Temporal already holds.
      const newAlert = alertmanagerBody([
        { labels: { server: serverId } },
        { status: 'resolved', labels: { server: serverId } },
      ]);
      const whileDown = await postJson(h, '/alerts/alertmanager', newAlert);

      expect(whileDown.statusCode).toBe(503);
      expect(whileDown.headers.get('retry-after')).toBe('15');
      const healthWhileDown = await get(h, '/healthz');
      expect(healthWhileDown.statusCode).toBe(503);
      expect(healthWhileDown.json()).toEqual({ ok: false, temporal: 'down' });
    } finally {
      await closeOpenApps();
      await ownTemporal.close();
      if (!stopped) await devServer.stop();
    }
  });
});

describe('GET /healthz', () => {
  test('reports Temporal up when the shared dev server answers', async () => {
    const h = await harness(temporal);

    const response = await get(h, '/healthz');

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ ok: true, temporal: 'up' });
  });
});

describe('GET /incidents/:serverId', () => {
  test('404 when the server has no incident, 422 when the server is not configured', async () => {
    const h = await harness(temporal);

    const noIncident = await get(h, `/incidents/${serverOf(h)}`);
    const notConfigured = await get(h, '/incidents/mx-nowhere');

    expect(noIncident.statusCode).toBe(404);
    expect(noIncident.json()).toEqual({
      error: 'no incident',
      reason: `no incident for server ${serverOf(h)} (workflow ${incidentWorkflowId(serverOf(h))})`,
    });
    expect(notConfigured.statusCode).toBe(422);
    expect(notConfigured.json<{ reason: string }>().reason).toContain('mx-nowhere');
  });

  test('returns the state query, reachable by server id or alias', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);

    await withWorker(temporal.workerConnection, h.taskQueue, createFakeActivities().activities, async () => {
      const posted = await postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: serverId } }]));
      expect(posted.statusCode).toBe(202);

      const state = await eventually(async () => {
        const response = await get(h, `/incidents/${serverId}`);
        const body = response.json<IncidentState>();
        return response.statusCode === 200 && body.phase === 'awaiting-approval' ? body : undefined;
      }, 'the incident to wait for approval');
      expect(state).toMatchObject({
        incidentId: incidentWorkflowId(serverId),
        serverId,
        alerts: [{ source: 'alertmanager', alertName: 'MailServerDown' }],
        pendingApproval: { approvers: ['alice', 'bob'] },
      });

      const byAlias = await get(h, `/incidents/${serverId}.example.test:9100`);
      expect(byAlias.statusCode).toBe(200);
      expect(byAlias.json<IncidentState>().incidentId).toBe(incidentWorkflowId(serverId));
      await terminateIfRunning(temporal.client, incidentWorkflowId(serverId));
    });
  });
});
