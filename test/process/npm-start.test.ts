import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, killProcess, startTsProcess, type RunningProcess, portAnswers } from '../support/processes';
import { startWebhookSink } from '../support/sinks';
import { alertmanagerPayload } from '../../client/webhook/alertmanager';
import { incidentWorkflowId } from '../../workflows/messages';
import { expectNoIncidentEndedBadly } from '../support/incident-outcomes';
import { connectTestClient } from '../support/temporal';

describe('npm start without a config', () => {
  test('names the two ways forward and exits 2', async () => {
    const missing = path.join(os.tmpdir(), `mailmend-missing-${process.pid}.yaml`);
    const child = spawn(process.execPath, ['--import', 'tsx', 'app/start.ts'], {
      cwd: path.join(__dirname, '..', '..'),
      env: { ...process.env, MAILMEND_CONFIG: missing, TEMPORAL_ADDRESS: '127.0.0.1:1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code).toBe(2);
    expect(stderr).toContain(`mailmend has no config: ${missing} does not exist.`);
    expect(stderr).toContain(`npx mailmend init --path ${missing} writes a commented config to fill in`);
    expect(stderr).toContain('cp mailmend.example.yaml mailmend.yaml');
    expect(stderr).toContain('npx mailmend lab up, then MAILMEND_CONFIG=mailmend.lab.yaml npm start');
  });
});

describe('npm start (the main job)', () => {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-start-'));
  let mailmend: RunningProcess | undefined;

  afterAll(async () => {
    if (mailmend) await killProcess(mailmend);
    rmSync(workDir, { recursive: true, force: true });
  });

  test('starts the embedded dev server with its UI, the worker and the webhook, and stops them all on Ctrl-C', async () => {
    const chat = await startWebhookSink();
    const [temporalPort, uiPort, webhookPort, closedPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const configFile = path.join(workDir, 'mailmend.yaml');
    writeFileSync(
      configFile,
      stringify({
        temporal: { dataDir: 'data', port: temporalPort, uiPort, shutdownGraceTime: '5s' },
        webhook: { port: webhookPort },
        reportsDir: 'reports',
        servers: [
          {
            id: 'mx-main',
            smtp: { host: '127.0.0.1', port: closedPort },
            imap: { host: '127.0.0.1', port: closedPort },
          },
        ],
        audiences: {
          itTeam: { channels: [{ name: 'ops', type: 'webhook', url: { env: 'CHAT_URL' } }] },
          management: { channels: [{ name: 'mgmt', type: 'webhook', url: { env: 'CHAT_URL' } }] },
          users: { channels: [{ name: 'users', type: 'webhook', url: { env: 'CHAT_URL' } }] },
        },
        approvers: ['alice'],
      }),
    );
    try {
      mailmend = await startTsProcess(
        'app/start.ts',
        { MAILMEND_CONFIG: configFile, CHAT_URL: chat.urlFor('/hook'), TEMPORAL_ADDRESS: '' },
        'Press Ctrl-C to stop.',
      );
      const banner = mailmend.output();
      expect(banner).toContain(`Temporal      127.0.0.1:${temporalPort} (namespace default), embedded dev server`);
      expect(banner).toContain(`Temporal UI   http://127.0.0.1:${uiPort}`);
      expect(banner).toContain(`webhook       http://127.0.0.1:${webhookPort}/alerts/alertmanager`);
      expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);

      const alert = await fetch(`http://127.0.0.1:${webhookPort}/alerts/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alertmanagerPayload({ labels: { alertname: 'MailDown', server: 'mx-main' } })),
      });
      expect(alert.status).toBe(202);
      const deadline = Date.now() + 30_000;
      while (chat.requests.length < 3 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(chat.requests.map((request) => (request.body as { mailmend: { kind: string } }).mailmend.kind)).toContain(
        'outage',
      );

      const temporal = await connectTestClient(`127.0.0.1:${temporalPort}`);
      try {
        await expectNoIncidentEndedBadly(temporal.client, { workflowIds: [incidentWorkflowId('mx-main')] });
      } finally {
        await temporal.close();
      }

      mailmend.child.kill('SIGINT');
      expect(await mailmend.exited).toBe(0);
      expect(mailmend.output()).toContain('"msg":"stopped"');
      expect(await portAnswers(temporalPort)).toBe(false);
      expect(await portAnswers(webhookPort)).toBe(false);
    } finally {
      await chat.close();
    }
  });
});
