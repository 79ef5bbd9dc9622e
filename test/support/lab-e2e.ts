import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { CatalogActionId } from '../../activities/remediation-catalog';
import { confirm } from '../../client/incidents';
import { labBreak, labDown, labUp, requireLabTools, type LabInfo, type LabScenario } from '../../lab';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import { waitForState } from './incidents';
import { startMailmendStack, type MailmendStack } from './mailmend-stack';
import { freePorts } from './processes';
import { connectTestClient, connectTestWorker, sharedServerAddress, temporalExecutable } from './temporal';

const run = promisify(execFile);

/** One lab, one mailmend stack on it, and a server entry (an incident of its own) per scenario name. */
export interface LabE2e {
  stateDir: string;
  lab: LabInfo;
  client: Client;
  stack: MailmendStack;
  serverIdFor(name: string): string;
  close(): Promise<void>;
}

export function report(line: string): void {
  process.stdout.write(`[lab e2e] ${line}\n`);
}

const LOG_WINDOW_MS = 20_000;

/** Brings up a lab on free ports and a mailmend stack with one server entry per name, all pointing at that lab. */
export async function startLabE2e(
  prefix: string,
  names: string[],
  settings: Record<string, unknown> = {},
): Promise<LabE2e> {
  requireLabTools();
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root: they start Postfix, Dovecot and sshd');
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `mailmend-${prefix}-`));
  const [smtpPort, imapPort, sshPort, relayPort] = (await freePorts(4)) as [number, number, number, number];
  const started = Date.now();
  const lab = await labUp({ stateDir, smtpPort, imapPort, sshPort, relayPort, serverId: `lab-${prefix}` });
  report(`${prefix}: lab up in ${Date.now() - started} ms`);
  const { client, close: closeClient } = await connectTestClient();
  const workerConnection: NativeConnection = await connectTestWorker();
  const ids = new Map(names.map((name) => [name, `lab-${name}-${randomUUID().slice(0, 6)}`]));
  // Every scenario breaks the same lab one after another: a short log window keeps the previous scenario's log lines
  // (already healed) out of the next diagnosis, as hours would on a real host.
  const host = { ...lab.server.host, logWindow: LOG_WINDOW_MS };
  const servers = [...ids.values()].map((id) => ({ ...lab.server, id, aliases: [], host }));
  const stack = await startMailmendStack({
    client,
    workerConnection,
    servers,
    policies: { maxVerificationAttempts: 2 },
    settings,
  });
  return {
    stateDir,
    lab,
    client,
    stack,
    serverIdFor(name) {
      const id = ids.get(name);
      if (!id) throw new Error(`no server entry for ${name}`);
      return id;
    },
    async close() {
      await stack.stop();
      await closeClient();
      await workerConnection.close();
      await labDown(stateDir);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Approves the way an operator would: the real Temporal CLI. */
export async function approveWithTemporalCli(serverId: string, by: string): Promise<void> {
  const executable = temporalExecutable();
  if (executable.type !== 'existing-path')
    throw new Error('the lab tests need the Temporal CLI binary on this machine');
  await run(executable.path, [
    'workflow',
    'signal',
    '--address',
    sharedServerAddress(),
    '--workflow-id',
    incidentWorkflowId(serverId),
    '--name',
    'approve',
    '--input',
    JSON.stringify({ by, comment: 'approved from the temporal CLI' }),
  ]);
}

/** The test's own SMTP -> IMAP round trip through the lab, independent of mailmend's; returns its duration. */
export async function roundTripThroughLab(lab: LabInfo): Promise<number> {
  const token = `e2e-${randomUUID()}`;
  const started = Date.now();
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: lab.ports.smtp, ignoreTLS: true });
  await transport.sendMail({ from: 'tester@lab.test', to: lab.server.canary?.mailbox, subject: token, text: token });
  transport.close();
  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: lab.ports.imap,
    secure: false,
    tls: { ca: await readFile(lab.paths.tlsCaCert, 'utf8') },
    auth: {
      user: lab.server.canary?.imapUser ?? '',
      pass: (await readFile(lab.paths.canaryPasswordFile, 'utf8')).trim(),
    },
    logger: false,
  });
  await imap.connect();
  try {
    while (Date.now() - started < 30_000) {
      const lock = await imap.getMailboxLock('INBOX');
      try {
        const found = await imap.search({ subject: token }, { uid: true });
        if (found && found.length > 0) return Date.now() - started;
      } finally {
        lock.release();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`round-trip message ${token} did not arrive within 30 s`);
  } finally {
    await imap.logout();
  }
}

/** A scenario's expected end: fixed by one catalog action, or handed over to people with the cause named. */
export type E2eExpectation =
  | { scenario: LabScenario; outcome: 'closed'; actionId: CatalogActionId; rootCause: RegExp }
  | { scenario: LabScenario; outcome: 'escalated'; rootCause: RegExp };

function handleFor(env: LabE2e, serverId: string) {
  return env.client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
}

/** Breaks the lab, raises the alert through the webhook, and waits until the diagnosis asks for approval or hands over. */
async function alertAndDiagnose(env: LabE2e, scenario: LabScenario) {
  const serverId = env.serverIdFor(scenario);
  await labBreak(env.stateDir, scenario);
  const alertedAt = Date.now();
  const response = await env.stack.postAlert({ server: serverId, alertname: 'MailServerDown' });
  expect(response.status).toBe(202);
  const handle = handleFor(env, serverId);
  const phases: string[] = [];
  const decided = await waitForState(
    handle,
    (state) => {
      if (phases.at(-1) !== state.phase) phases.push(state.phase);
      return ['awaiting-approval', 'escalated', 'closed', 'false-alarm'].includes(state.phase);
    },
    120_000,
  );
  const alertToDiagnosisMs = Date.parse(decided.diagnosis?.diagnosedAt ?? '') - alertedAt;
  return { serverId, handle, phases, decided, alertToDiagnosisMs };
}

function topHypothesis(state: IncidentState): string {
  const top = state.diagnosis?.hypotheses?.[0];
  return top ? `${top.actionId} (${top.failureClass}, ${top.confidence})` : 'none';
}

/** The whole procedure for a scenario mailmend should fix: diagnosis, approval by CLI, verification, confirmations. */
export async function expectRestored(env: LabE2e, expected: Extract<E2eExpectation, { outcome: 'closed' }>) {
  const { serverId, handle, phases, decided, alertToDiagnosisMs } = await alertAndDiagnose(env, expected.scenario);
  const topIsExpected = decided.diagnosis?.hypotheses?.[0]?.actionId === expected.actionId;
  report(`${expected.scenario}: alert->diagnosis ${alertToDiagnosisMs} ms, top hypothesis ${topHypothesis(decided)}`);
  if (decided.phase !== 'awaiting-approval') await handle.terminate('the test expected an approval request');
  expect({ phase: decided.phase, rootCause: decided.diagnosis?.rootCause }).toEqual({
    phase: 'awaiting-approval',
    rootCause: expect.stringMatching(expected.rootCause),
  });
  expect(decided.pendingApproval?.actionId).toBe(expected.actionId);
  const approvedAt = Date.now();
  await approveWithTemporalCli(serverId, 'alice');
  await waitForState(handle, (state) => state.roundTrip?.ok === true, 120_000);
  const approvalToVerifiedMs = Date.now() - approvedAt;
  const testRoundTripMs = await roundTripThroughLab(env.lab);
  await confirm(env.client, serverId, { by: 'alice' });
  await confirm(env.client, serverId, { by: 'carol' });
  const final = await handle.result();
  expect(final.outcome).toBe('closed');
  expect(phases).toEqual(expect.arrayContaining(['awaiting-approval']));
  expect(final.remediations.at(-1)?.actionId).toBe(expected.actionId);
  report(
    `${expected.scenario}: alert->diagnosis ${alertToDiagnosisMs} ms, top hypothesis expected: ${topIsExpected}, ` +
      `approval->verified ${approvalToVerifiedMs} ms, test round trip ${testRoundTripMs} ms`,
  );
}

/** A scenario no catalog action fixes: mailmend names the cause and hands over, and nobody is asked to approve. */
export async function expectEscalated(env: LabE2e, expected: Extract<E2eExpectation, { outcome: 'escalated' }>) {
  const { handle, phases, decided, alertToDiagnosisMs } = await alertAndDiagnose(env, expected.scenario);
  report(
    `${expected.scenario}: alert->diagnosis ${alertToDiagnosisMs} ms, top hypothesis ${topHypothesis(decided)}, ` +
      `phase ${decided.phase}`,
  );
  if (decided.phase === 'awaiting-approval') await handle.terminate('the test expected a handover');
  const final = decided.phase === 'awaiting-approval' ? decided : await handle.result();
  expect({
    outcome: final.outcome,
    rootCause: final.diagnosis?.rootCause,
    askedToApprove: phases.includes('awaiting-approval'),
    remediations: final.remediations,
  }).toEqual({
    outcome: 'escalated',
    rootCause: expect.stringMatching(expected.rootCause),
    askedToApprove: false,
    remediations: [],
  });
}
