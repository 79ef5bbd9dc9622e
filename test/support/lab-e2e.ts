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
import { closeOpenIncidents, type RunIncidents } from './incident-outcomes';
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
  /** Every incident this lab's server entries can have, for the run's outcome check. */
  incidents(): RunIncidents;
  /** Closes, as a person would, any incident a failed or skipped test left open, then stops everything. */
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
  const incidents: RunIncidents = { workflowIds: [...ids.values()].map(incidentWorkflowId) };
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
    incidents: () => incidents,
    async close() {
      try {
        await closeOpenIncidents(client, incidents);
      } finally {
        await stack.stop();
        await closeClient();
        await workerConnection.close();
        await labDown(stateDir);
        await rm(stateDir, { recursive: true, force: true });
      }
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

/** A hang: how long the incident may take from the alert to its decision, and what that decision must name. */
export interface HangExpectation {
  boundMs: number;
  /** The unresponsive process or the command that timed out, as the diagnosis or the escalation names it. */
  names: RegExp;
}

/** A scenario's expected end: fixed by one catalog action, or handed over to people with the cause named. */
export type E2eExpectation =
  | { scenario: LabScenario; outcome: 'closed'; actionId: CatalogActionId; rootCause: RegExp; hang?: HangExpectation }
  | { scenario: LabScenario; outcome: 'escalated'; rootCause: RegExp; hang?: HangExpectation }
  /** Handed over before any diagnosis, as when the host cannot be looked at: the escalation's reason says why. */
  | { scenario: LabScenario; outcome: 'escalated'; reason: RegExp; hang: HangExpectation };

/** A fix checked in full: the evidence it was chosen on, and what an operator does before approving it. */
export interface StagedExpectation {
  scenario: LabScenario;
  rootCause: RegExp;
  evidence: RegExp;
  actionId: CatalogActionId;
  /** E.g. bringing the upstream relay back, as an operator would before approving a queue flush. */
  beforeApproval?: (stateDir: string) => Promise<unknown>;
}

function handleFor(env: LabE2e, serverId: string) {
  return env.client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
}

const DECISION_WAIT_MS = 120_000;

/** Breaks the lab, raises the alert through the webhook, and waits until the diagnosis asks for approval or hands over. */
async function alertAndDiagnose(env: LabE2e, scenario: LabScenario, hang: HangExpectation | undefined) {
  const serverId = env.serverIdFor(scenario);
  await labBreak(env.stateDir, scenario);
  const alertedAt = Date.now();
  const response = await env.stack.postAlert({ server: serverId, alertname: 'MailServerDown' });
  expect(response.status).toBe(202);
  const handle = handleFor(env, serverId);
  const phases: string[] = [];
  // Past a hang's bound the wait goes on a while, so a slow incident fails on the bound, with its time.
  const decided = await waitForState(
    handle,
    (state) => {
      if (phases.at(-1) !== state.phase) phases.push(state.phase);
      return ['awaiting-approval', 'review', 'escalated', 'closed', 'false-alarm'].includes(state.phase);
    },
    Math.max(DECISION_WAIT_MS, (hang?.boundMs ?? 0) + 60_000),
  );
  const diagnosedAt = decided.diagnosis ? Date.parse(decided.diagnosis.diagnosedAt) : undefined;
  const alertToDiagnosisMs = diagnosedAt === undefined ? undefined : diagnosedAt - alertedAt;
  return { serverId, handle, phases, decided, alertedAt, alertToDiagnosisMs };
}

function topHypothesis(state: IncidentState): string {
  const top = state.diagnosis?.hypotheses?.[0];
  return top ? `${top.actionId} (${top.failureClass}, ${top.confidence})` : 'none';
}

/** Milliseconds from the alert to the first notice the IT team got, or undefined when none reached them. */
export function alertToFirstItNoticeMs(state: IncidentState, alertedAt: number): number | undefined {
  const sent = state.notifications.filter((notice) => notice.audience === 'itTeam' && notice.ok);
  const first = Math.min(...sent.map((notice) => Date.parse(notice.sentAt)));
  return Number.isFinite(first) ? first - alertedAt : undefined;
}

/** Milliseconds from the alert to the timeline entry for `event`, e.g. `entered awaiting-approval`. */
function alertToEventMs(state: IncidentState, event: string, alertedAt: number): number | undefined {
  const entry = state.timeline.find((candidate) => candidate.event === event);
  return entry ? Date.parse(entry.at) - alertedAt : undefined;
}

/** `1234 ms`, or `never` for something that did not happen. */
export function formatDuration(value: number | undefined): string {
  return value === undefined ? 'never' : `${value} ms`;
}

const TIMED_OUT_LINE = /did not answer within|did not finish its handshake/;

/** The first line that quotes a command cut off at its timeout or a handshake that never finished. */
function timedOutQuote(lines: readonly string[]): string {
  return lines.find((line) => TIMED_OUT_LINE.test(line)) ?? 'none quoted';
}

interface HangTiming {
  /** The phase the hang must reach within its bound, as the timeline enters it. */
  decision: 'awaiting-approval' | 'escalated';
  decidedMs: number | undefined;
  firstItNoticeMs: number | undefined;
  alertToDiagnosisMs: number | undefined;
}

/**
 * Reports a hang's times and the timed-out command as `quoting` (evidence, or the escalation's reason) words it, then
 * asserts the bound, that the IT team heard, and that `naming` (the root cause and evidence, or the reason) names it.
 */
function expectHangHandled(
  scenario: LabScenario,
  hang: HangExpectation,
  timing: HangTiming,
  text: { naming: string[]; quoting: string[] },
): void {
  const decided =
    timing.decision === 'escalated'
      ? `alert->escalation ${formatDuration(timing.decidedMs)}`
      : `alert->diagnosis ${formatDuration(timing.alertToDiagnosisMs)}, ` +
        `alert->${timing.decision} ${formatDuration(timing.decidedMs)}`;
  report(
    `${scenario} (hang, bound ${hang.boundMs} ms): alert->first IT notice ${formatDuration(timing.firstItNoticeMs)}, ` +
      `${decided}, timed-out command as quoted: ${timedOutQuote(text.quoting)}`,
  );
  expect({ reached: timing.decidedMs !== undefined, itTeamNotified: timing.firstItNoticeMs !== undefined }).toEqual({
    reached: true,
    itTeamNotified: true,
  });
  expect(timing.decidedMs).toBeLessThanOrEqual(hang.boundMs);
  expect(text.naming.join('\n')).toMatch(hang.names);
}

/** The whole procedure for a scenario mailmend should fix: diagnosis, approval by CLI, verification, confirmations. */
export async function expectRestored(env: LabE2e, expected: Extract<E2eExpectation, { outcome: 'closed' }>) {
  const { scenario, hang } = expected;
  const { serverId, handle, phases, decided, alertedAt, alertToDiagnosisMs } = await alertAndDiagnose(
    env,
    scenario,
    hang,
  );
  const topIsExpected = decided.diagnosis?.hypotheses?.[0]?.actionId === expected.actionId;
  const firstItNoticeMs = alertToFirstItNoticeMs(decided, alertedAt);
  const times =
    `alert->first IT notice ${formatDuration(firstItNoticeMs)}, ` +
    `alert->diagnosis ${formatDuration(alertToDiagnosisMs)}`;
  report(`${scenario}: ${times}, top hypothesis ${topHypothesis(decided)}`);
  // Closed the way a person would, so the run's outcome check still sees only proper ends.
  if (decided.phase !== 'awaiting-approval') await closeOpenIncidents(env.client, { workflowIds: [handle.workflowId] });
  expect({ phase: decided.phase, rootCause: decided.diagnosis?.rootCause }).toEqual({
    phase: 'awaiting-approval',
    rootCause: expect.stringMatching(expected.rootCause),
  });
  expect(decided.pendingApproval?.actionId).toBe(expected.actionId);
  if (hang) {
    const decidedMs = alertToEventMs(decided, 'entered awaiting-approval', alertedAt);
    const timing = { decision: 'awaiting-approval' as const, decidedMs, firstItNoticeMs, alertToDiagnosisMs };
    const evidence = decided.diagnosis?.evidence ?? [];
    expectHangHandled(scenario, hang, timing, {
      naming: [decided.diagnosis?.rootCause ?? '', ...evidence],
      quoting: evidence,
    });
  }
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
    `${scenario}: ${times}, top hypothesis expected: ${topIsExpected}, ` +
      `approval->verified ${approvalToVerifiedMs} ms, test round trip ${testRoundTripMs} ms`,
  );
}

/** A scenario no catalog action fixes: mailmend names the cause and hands over, and nobody is asked to approve. */
export async function expectEscalated(env: LabE2e, expected: Extract<E2eExpectation, { outcome: 'escalated' }>) {
  const { scenario, hang } = expected;
  const { serverId, handle, phases, decided, alertedAt, alertToDiagnosisMs } = await alertAndDiagnose(
    env,
    scenario,
    hang,
  );
  // Closed the way a person would, so the run's outcome check still sees only proper ends.
  if (decided.phase === 'awaiting-approval') await closeOpenIncidents(env.client, { workflowIds: [handle.workflowId] });
  const final = await handle.result();
  const firstItNoticeMs = alertToFirstItNoticeMs(final, alertedAt);
  const alertToEscalationMs = alertToEventMs(final, 'escalated to people', alertedAt);
  report(
    `${scenario}: alert->first IT notice ${formatDuration(firstItNoticeMs)}, ` +
      `alert->diagnosis ${formatDuration(alertToDiagnosisMs)}, ` +
      `alert->escalation ${formatDuration(alertToEscalationMs)}, ` +
      `top hypothesis ${topHypothesis(decided)}, phase ${decided.phase}`,
  );
  expect({
    outcome: final.outcome,
    askedToApprove: phases.includes('awaiting-approval'),
    remediations: final.remediations,
  }).toEqual({ outcome: 'escalated', askedToApprove: false, remediations: [] });
  if ('rootCause' in expected) expect(final.diagnosis?.rootCause).toMatch(expected.rootCause);
  else await expectPeopleToldWhy(env, serverId, final, expected.reason);
  if (hang) {
    const timing = {
      decision: 'escalated' as const,
      decidedMs: alertToEscalationMs,
      firstItNoticeMs,
      alertToDiagnosisMs,
    };
    const because = [final.outcomeReason ?? '', ...(final.diagnosis?.evidence ?? [])];
    expectHangHandled(scenario, hang, timing, { naming: because, quoting: because });
  }
}

/** The escalation's reason says why: as the outcome, on the timeline, and in the IT team's escalation notice. */
async function expectPeopleToldWhy(env: LabE2e, serverId: string, final: IncidentState, reason: RegExp) {
  const escalation = final.timeline.find((entry) => entry.event === 'escalated to people');
  expect({ outcomeReason: final.outcomeReason, timeline: escalation?.outcome }).toEqual({
    outcomeReason: expect.stringMatching(reason),
    timeline: final.outcomeReason,
  });
  const itNotice = await env.stack.mailSink.waitForMail(
    (mail) =>
      mail.headers.get('x-mailmend-incident') === incidentWorkflowId(serverId) &&
      mail.headers.get('x-mailmend-audience') === 'itTeam' &&
      /needs a person/.test(mail.headers.get('subject') ?? ''),
  );
  expect(itNotice.text).toMatch(reason);
}
