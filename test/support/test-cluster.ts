import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { stringify as stringifyYaml } from 'yaml';
import { runMailmend } from '../../app/mailmend';
import type { CliDeps } from '../../client/cli/deps';
import { clusterDown, clusterUp, freeClusterBasePort, withClusterClient, type ClusterInfo } from '../../cluster';
import { alertmanagerPayload } from '../../client/webhook/alertmanager';
import type { LabInfo } from '../../lab';
import { connectClient, temporalSettingsFromEnv } from '../../platform/temporal/connection';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import { closeOpenIncidents, type RunIncidents } from './incident-outcomes';
import { startSmtpSink, type SmtpSink } from './sinks';
import { startTestLab, stopTestLab } from './test-lab';

/** A lab, and a cluster whose two workers and two webhooks run mailmend on it, with every notice in an SMTP sink. */
export interface TestCluster {
  stateDir: string;
  info: ClusterInfo;
  lab: LabInfo;
  labStateDir: string;
  /** The lab's server id: the incident's workflow id is `incidentWorkflowId(serverId)`. */
  serverId: string;
  mail: SmtpSink;
  /** POSTs one firing Alertmanager alert for the lab's server to webhook `index` (0 is A, 1 is B). */
  postAlert(index: 0 | 1, labels?: Record<string, string>): Promise<Response>;
  /** `GET /incidents/:serverId` on webhook `index`: the incident's state as that webhook answers it. */
  incidentViaWebhook(index: 0 | 1): Promise<WebhookIncidentAnswer>;
  /** Runs `mailmend <argv>` in-process, as an operator's shell would with TEMPORAL_ADDRESS set to the cluster. */
  mailmend(...argv: string[]): Promise<CliRun>;
  /** Runs `body` with a client of the cluster's frontend, on a connection of its own. */
  withClient<T>(body: (client: Client) => Promise<T>): Promise<T>;
  incidents(): RunIncidents;
  /** Closes an incident still open, then stops the cluster and the lab and removes their state. */
  close(): Promise<void>;
}

export interface WebhookIncidentAnswer {
  status: number;
  /** The state, when the webhook answered 200. */
  state?: IncidentState;
  body: unknown;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function report(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

/** The config the cluster's workers and webhooks load: the lab as the only server, every audience by email. */
async function writeConfig(
  file: string,
  lab: LabInfo,
  mail: SmtpSink,
  reportsDir: string,
  policies: Record<string, unknown>,
): Promise<void> {
  const channel = (name: string) => ({ channels: [{ name, type: 'email', to: [`${name}@example.org`] }] });
  const document = {
    serverFiles: [lab.fragmentFile],
    reportsDir,
    fallbackRelay: { host: mail.host, port: mail.port, from: 'mailmend@example.org' },
    audiences: { itTeam: channel('it'), management: channel('management'), users: channel('users') },
    approvers: ['alice', 'bob'],
    policies: {
      probeTimeout: '3s',
      roundTripTimeout: '30s',
      verificationSettle: '10s',
      maxVerificationAttempts: 2,
      confirmationsRequired: 1,
      ...policies,
    },
  };
  await writeFile(file, stringifyYaml(document));
}

/**
 * Brings up a lab and a cluster in fresh state directories, on free ports. Fails, never skips: a machine without
 * root, PostgreSQL or the Temporal server must say what is missing.
 */
export async function startTestCluster(prefix: string, policies: Record<string, unknown> = {}): Promise<TestCluster> {
  const started = Date.now();
  const { stateDir: labStateDir, lab } = await startTestLab(`${prefix}-lab`, `cluster-${prefix}`);
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `mailmend-${prefix}-cluster-`));
  // mkdtemp makes it private to root, but PostgreSQL runs as its own user and must walk down to its data directory.
  await chmod(stateDir, 0o755);
  const mail = await startSmtpSink();
  let info: ClusterInfo | undefined;
  try {
    const configFile = path.join(stateDir, 'mailmend.yaml');
    await writeConfig(configFile, lab, mail, path.join(stateDir, 'reports'), policies);
    info = await clusterUp({
      stateDir: path.join(stateDir, 'cluster'),
      configFile,
      basePort: await freeClusterBasePort(),
    });
  } catch (error) {
    await clusterDown(path.join(stateDir, 'cluster')).catch(() => undefined);
    await Promise.all([mail.close(), stopTestLab(labStateDir)]);
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
  report(`${prefix}: lab and cluster up in ${Date.now() - started} ms (cluster ${info.startupMs} ms)`);
  const cluster = info;
  const serverId = lab.serverId;
  const incidents: RunIncidents = { workflowIds: [incidentWorkflowId(serverId)] };
  const withClient = <T>(body: (client: Client) => Promise<T>): Promise<T> =>
    withClusterClient(cluster.frontendAddress, body);
  return {
    stateDir: cluster.stateDir,
    info: cluster,
    lab,
    labStateDir,
    serverId,
    mail,
    withClient,
    postAlert: (index, labels = {}) =>
      fetch(`${cluster.webhookUrls[index]}/alerts/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          alertmanagerPayload({ labels: { server: serverId, severity: 'critical', ...labels }, annotations: {} }),
        ),
      }),
    incidentViaWebhook: (index) => incidentViaWebhook(cluster.webhookUrls[index] ?? '', serverId),
    mailmend: (...argv) => mailmendAgainst(cluster.frontendAddress, argv),
    incidents: () => incidents,
    async close() {
      try {
        await withClient((client) => closeOpenIncidents(client, incidents)).catch(() => undefined);
      } finally {
        await clusterDown(cluster.stateDir);
        await Promise.all([mail.close(), stopTestLab(labStateDir)]);
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  };
}

async function incidentViaWebhook(webhookUrl: string, serverId: string): Promise<WebhookIncidentAnswer> {
  const response = await fetch(`${webhookUrl}/incidents/${encodeURIComponent(serverId)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body: unknown = await response.json();
  return { status: response.status, body, ...(response.status === 200 ? { state: body as IncidentState } : {}) };
}

async function mailmendAgainst(frontendAddress: string, argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    connect: () =>
      connectClient(temporalSettingsFromEnv({ TEMPORAL_ADDRESS: frontendAddress }), { connectTimeoutMs: 5_000 }),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  };
  const code = await runMailmend(argv, deps);
  return { code, stdout, stderr };
}
