import type { Client } from '@temporalio/client';
import { labBreak, labUp, type LabScenario } from '../lab';
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

interface DrillOptions {
  scenario: LabScenario;
  stateDir: string;
  /** Where the running mailmend's webhook listens, e.g. http://127.0.0.1:8080. */
  webhookUrl: string;
  /** Defaults to the lab's own server id. */
  serverId?: string;
  bearerToken?: string;
  /** The notification inbox that `mailmend.lab.yaml` relays to; 0 turns it off. */
  inboxPort: number;
  pollIntervalMs?: number;
}

interface DrillDeps {
  client: Client;
  temporalAddress: string;
  out(text: string): void;
}

const TERMINAL_PHASES: readonly Phase[] = ['closed', 'false-alarm', 'escalated'];

const OPERATOR_PREPARATION: Partial<Record<LabScenario, string>> = {
  'deferred-backlog':
    'The upstream relay is down. An operator would wait for the provider to recover before flushing; to play that part, run:\n' +
    '    npx mailmend lab relay start --state-dir {stateDir}',
};

function clock(at: string): string {
  return at.slice(11, 19);
}

function oneLine(text: string, width = 150): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
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
    throw new Error(
      `could not reach mailmend's webhook at ${url}; start it first: MAILMEND_CONFIG=mailmend.lab.yaml npm start`,
      { cause: error },
    );
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

/** What the operator must do now, for the phase the incident just entered. */
function guidance(state: IncidentState, options: DrillOptions, deps: DrillDeps): string[] {
  const workflowId = incidentWorkflowId(state.serverId);
  const person = (index: number): string => state.pendingApproval?.approvers[index] ?? ['alice', 'bob'][index] ?? 'you';
  if (state.phase === 'awaiting-approval' && state.pendingApproval && state.diagnosis) {
    const { pendingApproval, diagnosis } = state;
    const preparation = OPERATOR_PREPARATION[options.scenario]?.replace('{stateDir}', options.stateDir);
    return [
      `Root cause: ${diagnosis.rootCause}`,
      'Evidence:',
      ...diagnosis.evidence.map((line) => `  - ${oneLine(line)}`),
      `Recommended fix: ${pendingApproval.actionId}: ${pendingApproval.description} (risk ${pendingApproval.risk})`,
      `Rollback: ${diagnosis.recommendation.rollback}`,
      ...rankedCauses(pendingApproval.hypotheses ?? []),
      ...(preparation ? ['', preparation] : []),
      '',
      `YOUR MOVE: approve as one of ${pendingApproval.approvers.join(', ')}:`,
      `    temporal workflow signal --address ${deps.temporalAddress} --workflow-id ${workflowId} --name approve --input '{"by":"${person(0)}"}'`,
      `  or: npx mailmend incidents approve ${state.serverId} --by ${person(0)}`,
      `  (to refuse: npx mailmend incidents reject ${state.serverId} --by ${person(0)} --reason "...")`,
    ];
  }
  if (state.phase === 'verification' && state.roundTrip?.ok) {
    return [
      `Automated checks pass: ${state.roundTrip.detail}.`,
      `YOUR MOVE: ${state.confirmationsRequired} different people confirm that mail works:`,
      `    npx mailmend incidents confirm ${state.serverId} --by ${person(0)}`,
      `    npx mailmend incidents confirm ${state.serverId} --by ${person(1)}`,
      `  or: temporal workflow signal --address ${deps.temporalAddress} --workflow-id ${workflowId} --name confirm --input '{"by":"${person(0)}"}'`,
    ];
  }
  return [];
}

/**
 * Rehearses the outage procedure on the lab: brings it up, breaks it, alerts the running mailmend, and narrates the
 * incident as it happens, telling the operator exactly what to type at each human step.
 */
export async function runDrill(options: DrillOptions, deps: DrillDeps): Promise<IncidentState> {
  const lab = await labUp({ stateDir: options.stateDir });
  const serverId = options.serverId ?? lab.serverId;
  deps.out(
    `Lab ${lab.alreadyUp ? 'already up' : `up in ${(lab.startupMs / 1000).toFixed(1)}s`}: server "${serverId}", SMTP ${lab.ports.smtp}, IMAP ${lab.ports.imap}, SSH ${lab.ports.ssh}`,
  );

  let inbox: NotificationInbox | undefined;
  if (options.inboxPort > 0) {
    try {
      inbox = await openNotificationInbox(options.inboxPort, ({ to, subject }) => deps.out(`  ✉ ${to}: ${subject}`));
      deps.out(`Notification inbox on 127.0.0.1:${options.inboxPort}: what each audience is told appears below as ✉.`);
    } catch (error) {
      deps.out(`(no notification inbox: port ${options.inboxPort} is taken: ${(error as Error).message})`);
    }
  }
  try {
    try {
      const open = await getIncidentState(deps.client, serverId);
      if (!TERMINAL_PHASES.includes(open.phase)) {
        deps.out(`Note: an incident for ${serverId} is already open (phase ${open.phase}); this alert joins it.`);
      }
    } catch (error) {
      if (!(error instanceof IncidentNotFoundError)) throw error;
    }
    const broken = await labBreak(options.stateDir, options.scenario);
    deps.out(`Broke the lab (${options.scenario}):`);
    for (const step of broken.steps) deps.out(`  - ${step}`);
    await sendAlert(options, serverId);
    deps.out(
      `Sent an Alertmanager alert for ${serverId} to ${options.webhookUrl}. Following ${incidentWorkflowId(serverId)}:`,
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
  for (;;) {
    let state: IncidentState;
    try {
      state = await getIncidentState(deps.client, serverId);
    } catch (error) {
      if (!(error instanceof IncidentNotFoundError)) throw error;
      await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 500));
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
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 500));
  }
}
