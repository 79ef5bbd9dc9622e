import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../../activities';
import { approve } from '../../client/incidents';
import { buildWebhookServer, startWebhookServer } from '../../client/webhook/server';
import { parseConfig } from '../../config/load';
import { buildActivityDeps } from '../../worker/activity-deps';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId } from '../../workflows/messages';
import { waitForState } from '../support/incidents';
import { freePort } from '../support/processes';
import { startSmtpSink, startWebhookSink } from '../support/sinks';
import { connectTestClient, connectTestWorker, uniqueServerId, workflowBundle } from '../support/temporal';
import { alertmanagerPayload } from '../../client/webhook/alertmanager';

describe('secrets', () => {
  let client: Client;
  let closeClient: () => Promise<void>;
  let workerConnection: NativeConnection;

  beforeAll(async () => {
    ({ client, close: closeClient } = await connectTestClient());
    workerConnection = await connectTestWorker();
  });
  afterAll(async () => {
    await closeClient();
    await workerConnection.close();
  });

  test('no configured secret reaches the workflow history, the report or the logs', async () => {
    const secretDir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-secrets-'));
    const env = {
      RELAY_PASSWORD: `relay-${randomUUID()}`,
      WEBHOOK_TOKEN: `bearer-${randomUUID()}`,
      CHAT_URL: '',
      CANARY_PASSWORD: `canary-${randomUUID()}`,
    };
    const sshKey = `ssh-private-${randomUUID()}`;
    writeFileSync(path.join(secretDir, 'id_ed25519'), `${sshKey}\n`);
    const mailSink = await startSmtpSink({ auth: { user: 'mailmend', pass: env.RELAY_PASSWORD } });
    const chatSink = await startWebhookSink();
    env.CHAT_URL = chatSink.urlFor(`/hooks/${randomUUID()}`);
    const serverId = uniqueServerId('mx-secrets');
    const [closedSmtpPort, closedImapPort, closedSshPort] = [await freePort(), await freePort(), await freePort()];
    const loaded = parseConfig(
      {
        webhook: { bearerToken: { env: 'WEBHOOK_TOKEN' } },
        reportsDir: path.join(secretDir, 'reports'),
        servers: [
          {
            id: serverId,
            smtp: { host: '127.0.0.1', port: closedSmtpPort },
            imap: { host: '127.0.0.1', port: closedImapPort },
            ssh: {
              host: '127.0.0.1',
              port: closedSshPort,
              user: 'mailmend',
              hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTest',
              privateKey: { file: 'id_ed25519' },
            },
            canary: { mailbox: 'canary@example.org', imapUser: 'canary', imapPassword: { env: 'CANARY_PASSWORD' } },
          },
        ],
        fallbackRelay: {
          host: mailSink.host,
          port: mailSink.port,
          from: 'mailmend@example.org',
          auth: { user: 'mailmend', password: { env: 'RELAY_PASSWORD' } },
        },
        audiences: {
          itTeam: {
            channels: [
              { name: 'ops-mail', type: 'email', to: ['ops@example.org'] },
              { name: 'ops-chat', type: 'webhook', url: { env: 'CHAT_URL' } },
            ],
          },
          management: { channels: [{ name: 'mgmt-mail', type: 'email', to: ['boss@example.org'] }] },
          users: { channels: [{ name: 'status', type: 'webhook', url: { env: 'CHAT_URL' } }] },
        },
        approvers: ['alice'],
        policies: { probeTimeout: '1s', maxVerificationAttempts: 1, verificationSettle: '1s' },
      },
      'secrets-test',
      env,
      secretDir,
    );
    const logLines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(line) });
    const taskQueue = `secrets-${randomUUID()}`;
    const activityDeps = buildActivityDeps(loaded, logger);
    const worker = await Worker.create({
      connection: workerConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities(activityDeps.deps),
    });
    const webhook = buildWebhookServer({ config: loaded.config, secrets: loaded.secrets, client, logger, taskQueue });

    try {
      const final = await worker.runUntil(async () => {
        const webhookUrl = await startWebhookServer(webhook, '127.0.0.1', 0);
        const response = await fetch(`${webhookUrl}/alerts/alertmanager`, {
          method: 'POST',
          headers: { authorization: `Bearer ${env.WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(alertmanagerPayload({ labels: { alertname: 'MailDown', server: serverId } })),
        });
        expect(response.status).toBe(202);
        const handle = client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
        await waitForState(handle, (state) => state.phase === 'awaiting-approval');
        await approve(client, serverId, { by: 'alice' });
        return handle.result();
      });

      // No sshd listens on the configured port, so the approved fix cannot run and verification fails.
      expect(final.outcome).toBe('escalated');
      expect(final.outcomeReason).toBe('verification failed 1 times');
      expect(
        final.timeline.some((entry) => entry.event === 'ran start-postfix' && entry.outcome.startsWith('failed')),
      ).toBe(true);
      expect(mailSink.received.length).toBeGreaterThan(0);
      expect(chatSink.requests.length).toBeGreaterThan(0);
      expect(final.notifications.every((record) => record.ok)).toBe(true);

      const history = JSON.stringify(await client.workflow.getHandle(incidentWorkflowId(serverId)).fetchHistory());
      const report = [final.report?.markdownPath, final.report?.jsonPath]
        .map((file) => readFileSync(file ?? '', 'utf8'))
        .join('\n');
      const secrets = loaded.secrets.knownSecrets();
      expect(secrets).toEqual(
        expect.arrayContaining([env.RELAY_PASSWORD, env.WEBHOOK_TOKEN, env.CHAT_URL, env.CANARY_PASSWORD, sshKey]),
      );
      expect(history).toContain(serverId);
      for (const secret of secrets) {
        expect(history).not.toContain(secret);
        expect(report).not.toContain(secret);
        expect(logLines.join('\n')).not.toContain(secret);
      }
    } finally {
      await webhook.close();
      activityDeps.close();
      await mailSink.close();
      await chatSink.close();
    }
  });
});
