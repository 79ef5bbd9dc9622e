import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { getIncidentState } from '../../client/incidents';
import { CLUSTER_WORKERS, clusterProcessPid, workerIdentity } from '../../cluster';
import type { LabInfo } from '../../lab';
import { postfixMasterPid as labPostfixMasterPid } from '../../lab/postfix';
import { waitUntil } from '../../lab/processes';
import type { IncidentState } from '../../workflows/messages';

/** A cluster worker as the pid files and the server know it. */
export interface ClusterWorker {
  name: (typeof CLUSTER_WORKERS)[number];
  pid: number;
  /** The SDK's default identity, `pid@hostname`, as pending activities and history events name the worker. */
  identity: string;
}

/** The cluster's two workers, from their pid files; fails when a pid file is missing or its process is gone. */
export async function clusterWorkers(stateDir: string): Promise<ClusterWorker[]> {
  return Promise.all(
    CLUSTER_WORKERS.map(async (name) => {
      const pid = await clusterProcessPid(stateDir, name);
      if (pid === undefined) throw new Error(`cluster ${name} is not running`);
      return { name, pid, identity: workerIdentity(pid) };
    }),
  );
}

const ENDED_PHASES = ['closed', 'escalated', 'false-alarm'];

/** Whether the incident has ended, however it ended: a wait for a later phase stops there and says so. */
export function incidentEnded(state: IncidentState): boolean {
  return ENDED_PHASES.includes(state.phase);
}

/**
 * Polls the incident's state until `until` holds or the incident has ended; on timeout the error names every phase
 * seen and the last error, so a stuck incident says where it stuck.
 */
export async function waitForIncident(
  client: Client,
  serverId: string,
  what: string,
  until: (state: IncidentState) => boolean,
  timeoutMs: number,
): Promise<IncidentState> {
  const phases: string[] = [];
  let latest: IncidentState | undefined;
  let lastError = '';
  await waitUntil(
    `the incident on ${serverId} to be ${what}`,
    async () => {
      try {
        latest = await getIncidentState(client, serverId);
      } catch (error) {
        lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        return false;
      }
      if (phases.at(-1) !== latest.phase) phases.push(latest.phase);
      return until(latest) || incidentEnded(latest);
    },
    { timeoutMs, intervalMs: 300, detail: async () => `phases seen: ${phases.join(' -> ')}; last error: ${lastError}` },
  );
  if (!latest) throw new Error('unreachable: the wait ended without a state');
  return latest;
}

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

/** A pending activity that a worker has started, as `describe()` shows it, and when the test saw it. */
export interface StartedActivity {
  attempt: number;
  identity: string;
  seenAt: number;
}

/**
 * Polls the run's pending activities every `intervalMs` until `activityType` is STARTED with at least
 * `minAttempt`; resolves as soon as it is seen, so the caller can act on the worker that runs it at once.
 */
export async function whenActivityStarted(
  handle: WorkflowHandle,
  activityType: string,
  { minAttempt = 1, intervalMs = 50, timeoutMs = 120_000 } = {},
): Promise<StartedActivity> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { raw } = await handle.describe();
    const pending = raw.pendingActivities?.find(
      (activity) =>
        activity.activityType?.name === activityType &&
        activity.state === STARTED &&
        (activity.attempt ?? 1) >= minAttempt,
    );
    if (pending)
      return { attempt: pending.attempt ?? 1, identity: pending.lastWorkerIdentity ?? '', seenAt: Date.now() };
    await sleep(intervalMs);
  }
  throw new Error(`${activityType} (attempt >= ${minAttempt}) was not started by any worker within ${timeoutMs} ms`);
}

/** Lines postfix-script writes to the lab's maillog each time `postfix start` starts the mail system. */
export async function postfixStartsLogged(lab: LabInfo): Promise<{ starts: number; alreadyRunning: number }> {
  const log = await readFile(lab.paths.postfixLog, 'utf8');
  const count = (pattern: RegExp) => log.split('\n').filter((line) => pattern.test(line)).length;
  return {
    starts: count(/postfix-script\[\d+\]: starting the Postfix mail system/),
    alreadyRunning: count(/the Postfix mail system is already running/),
  };
}

/** The lab's running Postfix master, from its pid file, or undefined when it does not run. */
export function postfixMasterPid(lab: LabInfo): Promise<number | undefined> {
  return labPostfixMasterPid(lab.paths);
}

/** GET `/healthz` on a webhook: its status, or 0 when it does not answer within 2 s. */
export async function webhookHealth(webhookUrl: string): Promise<number> {
  try {
    return (await fetch(`${webhookUrl}/healthz`, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

/** Waits until every webhook answers `/healthz` with 200; returns how long that took. */
export async function waitForHealthyWebhooks(webhookUrls: string[], timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  const statuses = new Map<string, number>();
  await waitUntil(
    'every webhook to answer /healthz with 200',
    async () => {
      for (const url of webhookUrls) statuses.set(url, await webhookHealth(url));
      return [...statuses.values()].every((status) => status === 200);
    },
    {
      timeoutMs,
      intervalMs: 250,
      detail: async () => [...statuses].map(([url, status]) => `${url}: ${status}`).join(', '),
    },
  );
  return Date.now() - started;
}

const FAILED_CAUSES = temporal.api.enums.v1.WorkflowTaskFailedCause;

/** Counts of the run's workflow task failures and timeouts: either one means a task had to be tried again. */
export async function workflowTaskTrouble(handle: WorkflowHandle): Promise<{ failed: string[]; timedOut: number }> {
  const events = (await handle.fetchHistory()).events ?? [];
  return {
    failed: events.flatMap((event) =>
      event.workflowTaskFailedEventAttributes
        ? [
            `${FAILED_CAUSES[event.workflowTaskFailedEventAttributes.cause ?? 0]}: ` +
              `${event.workflowTaskFailedEventAttributes.failure?.message}`,
          ]
        : [],
    ),
    timedOut: events.filter((event) => event.workflowTaskTimedOutEventAttributes).length,
  };
}
