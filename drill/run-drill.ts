import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { labBreak, labStatus, labUp, type LabScenario } from '../lab';
import { nextCommands } from '../client/cli/render';
import { getIncidentState, IncidentNotFoundError } from '../client/incidents';
import { alertmanagerPayload } from '../client/webhook/alertmanager';
import {
  incidentWorkflowId,
  NO_CATALOG_ACTION,
  type HypothesisSummary,
  type IncidentState,
  type Phase,
  type TimelineEntry,
} from '../workflows/messages';
import { openNotificationInbox, type NotificationInbox } from './notification-inbox';
import { readStateThroughWorkerRestarts, type WorkerWait } from './worker-wait';

interface DrillOptions {
  scenario: LabScenario;
  stateDir: string;
  /** Where the running mailmend's webhook listens, e.g. http://127.0.0.1:8080. */
  webhookUrl: string;
  /** The Temporal Web UI, e.g. http://127.0.0.1:8233, for the link to the incident. */
  uiUrl: string;
  /** Defaults to the lab's own server id. */
  serverId?: string;
  bearerToken?: string;
  /** The notification inbox that `mailmend.lab.yaml` relays to; 0 turns it off. */
  inboxPort: number;
  /** Print each notification's whole text under its subject, not only the subject. */
  showMessages?: boolean;
  /** Follow an incident that is already open instead of refusing to start. */
  join?: boolean;
  pollIntervalMs?: number;
  /** How long the drill waits out a worker that does not answer, e.g. while `npm start` restarts. */
  workerWait?: Partial<WorkerWait>;
}

interface DrillDeps {
  client: Client;
  temporalAddress: string;
  out(text: string): void;
}

/** The people `mailmend.lab.yaml` lists as approvers; confirming needs no role, so they confirm too. */
const LAB_PEOPLE = ['alice', 'bob'];

export const START_MAILMEND = 'MAILMEND_CONFIG=mailmend.lab.yaml npm start';

const TERMINAL_PHASES: readonly Phase[] = ['closed', 'false-alarm', 'escalated'];

const OPERATOR_PREPARATION: Partial<Record<LabScenario, string>> = {
  'deferred-backlog':
    'The upstream relay is down. An operator would wait for the provider to recover before flushing; to play that part, run:\n' +
    '    npx mailmend lab relay start --state-dir {stateDir}',
};

/** mailmend does not answer, so the drill stops before it breaks anything. */
export class MailmendNotAnsweringError extends Error {
  constructor(what: string, options?: ErrorOptions) {
    super(`${what}; start mailmend first: ${START_MAILMEND}`, options);
    this.name = 'MailmendNotAnsweringError';
  }
}

/** An incident for the lab server is still open, and a new alert would join it instead of starting a fresh drill. */
export class IncidentStillOpenError extends Error {
  constructor(
    readonly serverId: string,
    phase: string | undefined,
    approver: string,
  ) {
    super(
      `an incident for ${serverId} is still open (workflow ${incidentWorkflowId(serverId)}` +
        `${phase ? `, phase ${phase}` : ''}), so this drill's alert would join it. Close it first: ` +
        `npx mailmend incidents close ${serverId} --by ${approver} --reason "left open by an earlier drill"` +
        ' (or follow it with --join)',
    );
    this.name = 'IncidentStillOpenError';
  }
}

function clock(at: string): string {
  return at.slice(11, 19);
}

/** Folds whitespace only: nothing an operator reads before deciding is cut short. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The incident's page in the Temporal UI, where it can also be approved. */
export function incidentUiLink(uiUrl: string, namespace: string, serverId: string): string {
  return `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(incidentWorkflowId(serverId))}`;
}

function alertBody(serverId: string, scenario: LabScenario): string {
  return JSON.stringify(
    alertmanagerPayload({
      labels: { server: serverId, drill: scenario },
      annotations: { summary: `drill: ${scenario}` },
      fingerprint: `drill-${scenario}`,
    }),
  );
}

/** The webhook's /healthz answers 200 only while it reaches Temporal; the drill's own client must reach it too. */
async function requireMailmendAnswers(options: DrillOptions, deps: DrillDeps): Promise<void> {
  const url = `${options.webhookUrl.replace(/\/$/, '')}/healthz`;
  let status: number;
  try {
    status = (await fetch(url, { signal: AbortSignal.timeout(5_000) })).status;
  } catch (error) {
    throw new MailmendNotAnsweringError(`mailmend's webhook does not answer at ${url}`, { cause: error });
  }
  if (status !== 200) {
    throw new MailmendNotAnsweringError(`mailmend's webhook at ${url} answers ${status}: it cannot reach Temporal`);
  }
  try {
    await deps.client.connection.withDeadline(Date.now() + 5_000, () => deps.client.workflowService.getSystemInfo({}));
  } catch (error) {
    throw new MailmendNotAnsweringError(`Temporal does not answer at ${deps.temporalAddress}`, { cause: error });
  }
}

/** A drill starts from a clean slate: an open incident for the server would swallow its alert. */
async function refuseOpenIncident(serverId: string, options: DrillOptions, deps: DrillDeps): Promise<void> {
  const handle = deps.client.workflow.getHandle(incidentWorkflowId(serverId));
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') return;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return;
    throw error;
  }
  const state = await deps.client.connection
    .withDeadline(Date.now() + 3_000, () => getIncidentState(deps.client, serverId))
    .catch(() => undefined);
  if (options.join) {
    deps.out(`Joining the open incident ${incidentWorkflowId(serverId)}${state ? ` (phase ${state.phase})` : ''}.`);
    return;
  }
  const approver = state?.pendingApproval?.approvers[0] ?? state?.approvedBy ?? LAB_PEOPLE[0] ?? 'alice';
  throw new IncidentStillOpenError(serverId, state?.phase, approver);
}

async function sendAlert(options: DrillOptions, serverId: string): Promise<void> {
  const url = `${options.webhookUrl.replace(/\/$/, '')}/alerts/alertmanager`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(options.bearerToken ? { authorization: `Bearer ${options.bearerToken}` } : {}),
      },
      body: alertBody(serverId, options.scenario),
    });
  } catch (error) {
    throw new MailmendNotAnsweringError(`could not reach mailmend's webhook at ${url}`, { cause: error });
  }
  if (response.status === 422) {
    throw new Error(
      `mailmend does not know the server "${serverId}": start it with MAILMEND_CONFIG=mailmend.lab.yaml, ` +
        'which includes the lab entry (.mailmend/lab/mailmend-server.yaml)',
    );
  }
  if (response.status !== 202) throw new Error(`the webhook answered ${response.status}: ${await response.text()}`);
}

/** Every cause the diagnosis weighed, so the operator can approve another one's action with `--action`. */
function rankedCauses(hypotheses: HypothesisSummary[]): string[] {
  if (hypotheses.length < 2) return [];
  return [
    'Causes considered, best first:',
    ...hypotheses.map(
      (hypothesis, index) =>
        `  ${index + 1}. ${oneLine(hypothesis.cause)} (confidence ${hypothesis.confidence.toFixed(2)}; ` +
        `${hypothesis.actionId === NO_CATALOG_ACTION ? 'hand over' : `action ${hypothesis.actionId}`})`,
    ),
  ];
}

/** Who may approve now; with M-of-N approvals, how many more are needed and who has approved already. */
function yourApprovalMove(pending: NonNullable<IncidentState['pendingApproval']>): string {
  const required = pending.required ?? 1;
  if (required <= 1) return `YOUR MOVE: approve as one of ${pending.approvers.join(', ')}:`;
  const approvedBy = pending.approvedBy ?? [];
  const remaining = pending.approvers.filter((person) => !approvedBy.includes(person));
  const sofar = approvedBy.length > 0 ? `: ${approvedBy.join(', ')}` : '';
  return (
    `YOUR MOVE: this fix needs ${required} different approvers (${approvedBy.length} so far${sofar}); ` +
    `approve as one of ${remaining.join(', ')}:`
  );
}

/** What the operator must do now, for the phase the incident just entered; every command works as printed. */
function guidance(state: IncidentState, options: DrillOptions, deps: DrillDeps): string[] {
  const commands = nextCommands(state, { approvers: LAB_PEOPLE, confirmers: LAB_PEOPLE });
  const link = incidentUiLink(options.uiUrl, deps.client.options.namespace, state.serverId);
  if (state.phase === 'awaiting-approval' && state.pendingApproval && state.diagnosis) {
    const { pendingApproval, diagnosis } = state;
    const [approveCommand, ...others] = commands;
    const approver = /--by (\S+)$/.exec(approveCommand ?? '')?.[1] ?? LAB_PEOPLE[0];
    const preparation = OPERATOR_PREPARATION[options.scenario]?.replace('{stateDir}', options.stateDir);
    return [
      `Root cause: ${diagnosis.rootCause}`,
      'Evidence:',
      ...diagnosis.evidence.map((line) => `  - ${oneLine(line)}`),
      `Recommended fix: ${pendingApproval.actionId}: ${pendingApproval.description} (risk ${pendingApproval.risk})`,
      `Rollback: ${diagnosis.recommendation.rollback}`,
      ...rankedCauses(pendingApproval.hypotheses ?? []),
      `Every cause with its evidence for and against: npx mailmend incidents show ${state.serverId}`,
      ...(preparation ? ['', preparation] : []),
      '',
      yourApprovalMove(pendingApproval),
      `    ${approveCommand ?? ''}`,
      `  or in the Temporal UI: ${link}`,
      `    (Send a Signal, or Send an Update, named approve with the input {"by":"${approver}"})`,
      ...others.map((command) => `  or: ${command}`),
    ];
  }
  if (state.phase === 'verification' && state.roundTrip?.ok) {
    return [
      `Automated checks pass: ${state.roundTrip.detail}.`,
      `YOUR MOVE: ${state.confirmationsRequired} different people confirm that mail works:`,
      ...commands.map((command) => `    ${command}`),
      `  or in the Temporal UI: ${link}`,
    ];
  }
  return [];
}

/**
 * Rehearses the outage procedure on the lab: checks that mailmend answers and that no incident is open for the lab,
 * brings the lab up, breaks it, alerts the running mailmend, and narrates the incident as it happens, telling the
 * operator exactly what to type at each human step.
 */
export async function runDrill(options: DrillOptions, deps: DrillDeps): Promise<IncidentState> {
  await requireMailmendAnswers(options, deps);
  const knownServerId = options.serverId ?? (await labStatus(options.stateDir)).serverId;
  if (knownServerId) await refuseOpenIncident(knownServerId, options, deps);

  const lab = await labUp({ stateDir: options.stateDir });
  const serverId = options.serverId ?? lab.serverId;
  if (serverId !== knownServerId) await refuseOpenIncident(serverId, options, deps);
  deps.out(
    `Lab ${lab.alreadyUp ? 'already up' : `up in ${(lab.startupMs / 1000).toFixed(1)}s`}: server "${serverId}", SMTP ${lab.ports.smtp}, IMAP ${lab.ports.imap}, SSH ${lab.ports.ssh}`,
  );

  let inbox: NotificationInbox | undefined;
  if (options.inboxPort > 0) {
    try {
      inbox = await openNotificationInbox(options.inboxPort, ({ to, subject, text }) => {
        deps.out(`  ✉ ${to}: ${subject}`);
        if (options.showMessages) deps.out(text.replace(/\n+$/, '').replace(/^/gm, '    │ '));
      });
      deps.out(`Notification inbox on 127.0.0.1:${options.inboxPort}: what each audience is told appears below as ✉.`);
    } catch (error) {
      deps.out(`(no notification inbox: port ${options.inboxPort} is taken: ${(error as Error).message})`);
    }
  }
  try {
    const broken = await labBreak(options.stateDir, options.scenario);
    deps.out(`Broke the lab (${options.scenario}):`);
    for (const step of broken.steps) deps.out(`  - ${step}`);
    await sendAlert(options, serverId);
    deps.out(
      `Sent an Alertmanager alert for ${serverId} to ${options.webhookUrl}. Following ${incidentWorkflowId(serverId)}, ` +
        `also in the Temporal UI: ${incidentUiLink(options.uiUrl, deps.client.options.namespace, serverId)}`,
    );
    return await narrate(serverId, options, deps);
  } finally {
    await inbox?.close();
  }
}

async function narrate(serverId: string, options: DrillOptions, deps: DrillDeps): Promise<IncidentState> {
  let shown = 0;
  let lastPhase: Phase | undefined;
  let lastGuidance = '';
  const pause = () => new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 500));
  for (;;) {
    let state: IncidentState;
    try {
      state = await readStateThroughWorkerRestarts(deps.client, serverId, deps.out, options.workerWait);
    } catch (error) {
      if (!(error instanceof IncidentNotFoundError)) throw error;
      await pause();
      continue;
    }
    const fresh: TimelineEntry[] = state.timeline.slice(shown);
    shown = state.timeline.length;
    for (const entry of fresh) {
      deps.out(
        `${clock(entry.at)} ${entry.phase.padEnd(17)} ${entry.actor.padEnd(12)} ${oneLine(`${entry.event} -> ${entry.outcome}`)}`,
      );
    }
    if (state.phase !== lastPhase) {
      lastPhase = state.phase;
      deps.out(`== phase: ${state.phase}`);
    }
    const advice = guidance(state, options, deps).join('\n');
    if (advice && advice !== lastGuidance) deps.out(advice);
    lastGuidance = advice;
    if (TERMINAL_PHASES.includes(state.phase)) {
      deps.out(`Incident ${state.outcome ?? state.phase}: ${state.outcomeReason ?? ''}`);
      if (state.report) deps.out(`Post-incident report: ${state.report.markdownPath}`);
      deps.out(`Restore the lab for the next drill with: npx mailmend lab heal --state-dir ${options.stateDir}`);
      return state;
    }
    await pause();
  }
}
