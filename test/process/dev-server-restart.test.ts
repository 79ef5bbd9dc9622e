import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { alertmanagerPayload } from '../../client/webhook/alertmanager';
import { findDevServerPid, isProcessRunning } from '../../platform/temporal/dev-server-process';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import { expectNoIncidentEndedBadly } from '../support/incident-outcomes';
import { freePorts, killProcess, startTsProcess, type RunningProcess, portAnswers } from '../support/processes';
import { startWebhookSink, type WebhookSink } from '../support/sinks';
import { connectTestClient } from '../support/temporal';

interface Mailmend {
  process: RunningProcess;
  temporalPort: number;
  webhookUrl: string;
}

/** Polls `probe` until it returns a value, failing with `what` once `timeoutMs` has passed. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} not seen within ${timeoutMs} ms`, { cause: last });
}

/** The body of `/healthz` when it answers with `status`. */
async function healthWithStatus(webhookUrl: string, status: number): Promise<unknown> {
  const response = await fetch(`${webhookUrl}/healthz`);
  const body: unknown = await response.json();
  return response.status === status ? body : undefined;
}

function postAlert(webhookUrl: string, serverId: string, alertname = 'MailDown'): Promise<Response> {
  return fetch(`${webhookUrl}/alerts/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alertmanagerPayload({ labels: { alertname, server: serverId } })),
  });
}

async function incidentState(webhookUrl: string, serverId: string): Promise<IncidentState | undefined> {
  const response = await fetch(`${webhookUrl}/incidents/${serverId}`);
  return response.status === 200 ? ((await response.json()) as IncidentState) : undefined;
}

/** The embedded server's process; the kernel frees its port only once it has died. */
function killDevServer(mailmend: Mailmend): number {
  const pid = findDevServerPid({ port: mailmend.temporalPort, parentPid: mailmend.process.child.pid });
  if (pid === undefined) {
    throw new Error(`no dev server process on port ${mailmend.temporalPort}:\n${mailmend.process.output()}`);
  }
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** Takes `port` the moment the killed server lets go of it, before the supervisor's next check. */
async function occupyPort(port: number, timeoutMs: number): Promise<net.Server> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const occupant = net.createServer((socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        occupant.once('error', reject);
        occupant.listen({ host: '127.0.0.1', port, exclusive: true }, resolve);
      });
      return occupant;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw error;
    }
  }
}

async function exitCodeWithin(running: RunningProcess, timeoutMs: number): Promise<number | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'still running'>((resolve) => {
    timer = setTimeout(() => resolve('still running'), timeoutMs);
  });
  try {
    return await Promise.race([running.exited, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

describe('npm start when the embedded Temporal server dies', () => {
  const workDirs: string[] = [];
  const started: Mailmend[] = [];
  let chat: WebhookSink;

  beforeAll(async () => {
    chat = await startWebhookSink();
  });

  afterAll(async () => {
    for (const mailmend of started) {
      // A SIGKILLed mailmend cannot stop its dev server, so a failed test stops that first.
      const pid = findDevServerPid({ port: mailmend.temporalPort, parentPid: mailmend.process.child.pid });
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
      await killProcess(mailmend.process);
    }
    await chat.close();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  });

  async function startMailmend(serverId: string): Promise<Mailmend> {
    const workDir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-dev-server-'));
    workDirs.push(workDir);
    const [temporalPort, uiPort, webhookPort, closedPort] = await freePorts(4);
    const configFile = path.join(workDir, 'mailmend.yaml');
    const channels = [{ name: 'chat', type: 'webhook', url: { env: 'CHAT_URL' } }];
    writeFileSync(
      configFile,
      stringify({
        temporal: { dataDir: 'data', port: temporalPort, uiPort, shutdownGraceTime: '5s' },
        webhook: { port: webhookPort },
        reportsDir: 'reports',
        servers: [
          {
            id: serverId,
            smtp: { host: '127.0.0.1', port: closedPort },
            imap: { host: '127.0.0.1', port: closedPort },
          },
        ],
        audiences: { itTeam: { channels }, management: { channels }, users: { channels } },
        approvers: ['alice'],
      }),
    );
    const running = await startTsProcess(
      'app/start.ts',
      { MAILMEND_CONFIG: configFile, CHAT_URL: chat.urlFor('/hook'), TEMPORAL_ADDRESS: '' },
      'Press Ctrl-C to stop.',
    );
    const mailmend = { process: running, temporalPort: temporalPort!, webhookUrl: `http://127.0.0.1:${webhookPort}` };
    started.push(mailmend);
    return mailmend;
  }

  test('restarts it on the same database: /healthz goes 503, then 200, and the open incident answers and takes signals', async () => {
    const serverId = 'mx-restarted';
    const mailmend = await startMailmend(serverId);
    expect((await postAlert(mailmend.webhookUrl, serverId)).status).toBe(202);
    const before = await eventually('the incident state', () => incidentState(mailmend.webhookUrl, serverId), 30_000);

    const killedPid = killDevServer(mailmend);

    const down = await eventually('/healthz answering 503', () => healthWithStatus(mailmend.webhookUrl, 503), 15_000);
    expect(down).toEqual({ ok: false, temporal: 'down' });
    const up = await eventually(
      '/healthz answering 200 again',
      () => healthWithStatus(mailmend.webhookUrl, 200),
      60_000,
    );
    expect(up).toEqual({ ok: true, temporal: 'up' });
    const restartedPid = findDevServerPid({ port: mailmend.temporalPort, parentPid: mailmend.process.child.pid });
    expect(restartedPid).toBeDefined();
    expect(restartedPid).not.toBe(killedPid);
    expect(isProcessRunning(restartedPid!)).toBe(true);
    expect(mailmend.process.output()).toContain('embedded Temporal server is down; restarting it on the same database');
    expect(mailmend.process.output()).toContain('embedded Temporal server restarted');

    // The worker answers queries, so this proves its connection found the new server too.
    const after = await eventually(
      'the incident state after the restart',
      () => incidentState(mailmend.webhookUrl, serverId),
      60_000,
    );
    expect(after).toMatchObject({ incidentId: before.incidentId, openedAt: before.openedAt });
    // The incident may have closed meanwhile (no SSH: it hands over within seconds); a new alert then opens the next
    // one. Either way Temporal takes the signal and the worker shows it in the state.
    expect((await postAlert(mailmend.webhookUrl, serverId, 'AfterRestart')).status).toBe(202);
    const joined = await eventually(
      'the alert sent after the restart in the incident state',
      async () => {
        const state = await incidentState(mailmend.webhookUrl, serverId);
        return state?.alerts.find((alert) => alert.alertName === 'AfterRestart');
      },
      30_000,
    );
    expect(joined.count).toBe(1);
    const temporal = await connectTestClient(`127.0.0.1:${mailmend.temporalPort}`);
    try {
      // Every run, before the restart and after: none may have ended Failed because its server died under it.
      await expectNoIncidentEndedBadly(temporal.client, { workflowIds: [incidentWorkflowId(serverId)] });
    } finally {
      await temporal.close();
    }

    mailmend.process.child.kill('SIGINT');
    expect(await exitCodeWithin(mailmend.process, 30_000)).toBe(0);
    expect(isProcessRunning(restartedPid!)).toBe(false);
  });

  test('exits non-zero, naming the cause, when the port is taken before the restart', async () => {
    const mailmend = await startMailmend('mx-port-taken');

    killDevServer(mailmend);
    const occupant = await occupyPort(mailmend.temporalPort, 5_000);
    try {
      expect(await exitCodeWithin(mailmend.process, 30_000)).toBe(1);
      const output = mailmend.process.output();
      expect(output).toContain('embedded Temporal server is down; restarting it on the same database');
      expect(output).toContain(
        `the embedded Temporal server is down and could not be restarted: 127.0.0.1:${mailmend.temporalPort} is in use by another process`,
      );
      expect(await portAnswers(Number(new URL(mailmend.webhookUrl).port))).toBe(false);
    } finally {
      await new Promise<void>((resolve) => occupant.close(() => resolve()));
    }
  });
});
