import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseConfig } from '../../config/load';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId } from '../../workflows/messages';
import { phasesVisited } from '../support/incidents';
import { postAlertmanagerAlert, startWorkerAndWebhook } from '../support/mailmend-stack';
import { freePort } from '../support/processes';
import { startSmtpSink, startWebhookSink } from '../support/sinks';
import { uniqueServerId, useSharedTemporal } from '../support/temporal';

describe('secrets', () => {
  const temporal = useSharedTemporal();

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
    const mailmend = await startWorkerAndWebhook(loaded, temporal);
    const { client } = temporal;

    try {
      const response = await postAlertmanagerAlert(
        mailmend.webhookUrl,
        { labels: { alertname: 'MailDown', server: serverId } },
        { authorization: `Bearer ${env.WEBHOOK_TOKEN}` },
      );
      expect(response.status).toBe(202);
      const handle = client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
      const final = await handle.result();

      // The SSH key on file is not a key, so mailmend can run nothing on the host: it hands over without asking
      // anyone to approve, and the secret-bearing SSH attempt has still been made.
      expect(final.outcome).toBe('escalated');
      expect(final.outcomeReason).toMatch(/mailmend cannot run \S+: SSH to 127\.0\.0\.1:\d+ failed/);
      expect(phasesVisited(final)).not.toContain('awaiting-approval');
      expect(final.remediations).toEqual([]);
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
        expect(mailmend.logLines.join('\n')).not.toContain(secret);
      }
    } finally {
      await mailmend.stop();
      await mailSink.close();
      await chatSink.close();
    }
  });
});
