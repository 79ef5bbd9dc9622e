import os from 'node:os';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { alertmanagerPayload } from '../client/webhook/alertmanager';
import type { InboxMessage } from '../drill/notification-inbox';
import { AUDIENCES, incidentWorkflowId, type IncidentState } from '../workflows/messages';
import { collectNotices, type BenchInbox } from './bench-inbox';
import { bareSignalWithStart } from './dev-server-baseline';
import type { BenchStack } from './bench-stack';
import { formatMs, report, type Figure } from './figures';
import { describeLatency, describeStatuses, percentile, postConcurrently, type LoadReport } from './load-support';
import {
  cpuSecondsOf,
  formatMemory,
  ownCpuSeconds,
  ownResidentMemory,
  proportionalMemoryOf,
  residentMemoryOf,
  totalCpuSecondsOf,
  type ResidentMemory,
} from './process-usage';
import type { BackendProcesses } from './temporal-backend';

const FAN_OUT_SERVERS = 200;
const NOTICES_GOAL_MS = 10_000;
const P99_GOAL_MS = 250;
// Long enough for a slower backend to finish, so its time can be compared, not only reported as a miss.
const WAIT_MS = 300_000;

/** The fan-out's servers, each on the closed port. */
export function fanOutServerIds(): string[] {
  return Array.from({ length: FAN_OUT_SERVERS }, (_, index) => `bench-fan-${String(index).padStart(3, '0')}`);
}

interface FanOutProcesses {
  backend: BackendProcesses;
  inbox: BenchInbox;
}

/**
 * Every server alerting at once, one POST each, all in flight together: each opens an incident that mails its
 * outage notice to every audience. Measured from the first POST to the last outage notice the inbox receives.
 */
export async function measureFanOut(
  stack: BenchStack,
  serverIds: string[],
  processes: FanOutProcesses,
): Promise<Figure[]> {
  const expected = serverIds.length * AUDIENCES.length;
  const isOutageNotice = firstNoticeToEachAudience(new Set(serverIds.map(incidentWorkflowId)));
  const bodies = serverIds.map((server) => alertmanagerPayload({ labels: { alertname: 'MailServerDown', server } }));
  report(
    'fan-out',
    `${processes.backend.name} alone, signal-with-start: ${await bareSignalWithStart(stack.client, serverIds.length)}`,
  );
  const rssBeforeMiB = ownResidentMemory().rssMiB;
  const cpuBefore = cpuNow(processes);
  const [load, { notices, cpuAfter }] = await Promise.all([
    postConcurrently(stack.alertmanagerUrl, bodies, serverIds.length),
    collectNotices(processes.inbox, isOutageNotice, expected, WAIT_MS).then((notices) => ({
      notices,
      cpuAfter: cpuNow(processes),
    })),
  ]);
  const memory = [...memoryFigures(processes.backend), perIncidentFigure(rssBeforeMiB, serverIds.length)];
  reportProgress(load, notices, expected);
  const lastNotice = notices.length === expected ? notices.at(-1) : undefined;
  const wallSeconds = ((lastNotice?.receivedAt ?? Date.now()) - load.firstPostAt) / 1_000;
  reportCpu(processes.backend, [cpuBefore, cpuAfter], wallSeconds, load);
  await waitForIncidentsToEnd(stack.client, serverIds);
  const noticesMs = lastNotice ? lastNotice.receivedAt - load.firstPostAt : undefined;
  return [
    {
      name: `fan-out: ${expected} outage notices`,
      goal: `<= ${NOTICES_GOAL_MS / 1_000} s`,
      measured:
        noticesMs !== undefined ? formatMs(noticesMs) : `${notices.length} of ${expected} in ${WAIT_MS / 1_000} s`,
      met: noticesMs !== undefined && noticesMs <= NOTICES_GOAL_MS,
      reading: noticesMs === undefined ? undefined : { amount: noticesMs / 1_000, unit: 's' },
    },
    {
      name: 'fan-out: webhook p99',
      goal: `<= ${P99_GOAL_MS} ms`,
      measured: describeLatency(load),
      met: load.p99Ms <= P99_GOAL_MS,
      reading: { amount: load.p99Ms, unit: 'ms' },
    },
    {
      name: 'fan-out: errors',
      goal: '0',
      measured: `${load.errors} of ${load.requests}`,
      met: load.errors === 0,
      reading: { amount: load.errors, unit: 'errors' },
    },
    ...memory,
  ];
}

/** Right after the last notice: this process's memory, the Temporal server's, and the database's if it runs apart. */
function memoryFigures(backend: BackendProcesses): Figure[] {
  const server = residentMemoryOf(backend.pid);
  return [
    memoryFigure('fan-out: RSS, mailmend process (worker + webhook)', ownResidentMemory()),
    memoryFigure(`fan-out: RSS, ${backend.processName}`, server, 'fan-out: RSS, Temporal server process'),
    ...databaseMemoryFigures(backend),
  ];
}

/**
 * What the mailmend process grew by, per incident, from just before the POSTs to the last notice, with every incident
 * still open (cached by the worker, its timers pending): an upper bound, since garbage not yet collected counts too.
 */
function perIncidentFigure(rssBeforeMiB: number, incidents: number): Figure {
  const perIncidentMiB = (ownResidentMemory().rssMiB - rssBeforeMiB) / incidents;
  return {
    name: 'fan-out: mailmend RSS growth per open incident',
    goal: '-',
    measured: `${(perIncidentMiB * 1024).toFixed(0)} KiB (${incidents} open)`,
    reading: { amount: perIncidentMiB * 1024, unit: 'KiB' },
  };
}

function memoryFigure(name: string, memory: ResidentMemory | undefined, label?: string): Figure {
  const reading = memory && { amount: memory.rssMiB, unit: 'MiB', label };
  return { name, goal: '-', measured: formatMemory(memory), reading };
}

/** PostgreSQL's backends share its buffers: each process's proportional share adds up to what they use together. */
function databaseMemoryFigures(backend: BackendProcesses): Figure[] {
  if (!backend.databasePids) return [];
  const pids = backend.databasePids();
  const pssMiB = proportionalMemoryOf(pids);
  return [
    {
      name: 'fan-out: PSS, PostgreSQL processes',
      goal: '-',
      measured: pssMiB === undefined ? 'unknown' : `${pssMiB.toFixed(0)} MiB in ${pids.length} processes`,
      reading: pssMiB === undefined ? undefined : { amount: pssMiB, unit: 'MiB' },
    },
  ];
}

interface CpuSeconds {
  mailmend: number;
  server: number | undefined;
  database: number | undefined;
  inbox: number | undefined;
}

function cpuNow({ backend, inbox }: FanOutProcesses): CpuSeconds {
  return {
    mailmend: ownCpuSeconds(),
    server: cpuSecondsOf(backend.pid),
    database: backend.databasePids && totalCpuSecondsOf(backend.databasePids()),
    inbox: cpuSecondsOf(inbox.pid),
  };
}

/** Who used the machine's CPU while the notices went out: where the time went when every core was busy. */
function reportCpu(
  backend: BackendProcesses,
  [before, after]: [CpuSeconds, CpuSeconds],
  wallSeconds: number,
  load: LoadReport,
): void {
  const used = (from: number | undefined, to: number | undefined) =>
    from === undefined || to === undefined ? 'unknown' : `${(to - from).toFixed(1)} s`;
  const cores = os.availableParallelism();
  report(
    'fan-out',
    `CPU from the first POST to the last notice (${wallSeconds.toFixed(1)} s wall, ${cores} cores = ` +
      `${(wallSeconds * cores).toFixed(1)} CPU-s): ${backend.name} ${used(before.server, after.server)}, ` +
      (backend.databasePids ? `PostgreSQL ${used(before.database, after.database)}, ` : '') +
      `worker + webhook ${used(before.mailmend, after.mailmend)}, inbox ${used(before.inbox, after.inbox)}, ` +
      `load generator ${load.cpuSeconds.toFixed(1)} s; load average ${os.loadavg()[0]?.toFixed(2)}`,
  );
}

/** When the notices came: where the time went, for the report. */
function reportProgress(load: LoadReport, notices: InboxMessage[], expected: number): void {
  report(
    'fan-out',
    `${load.requests} POSTs in ${formatMs(load.wallMs)}: ${describeLatency(load)}; ${describeStatuses(load)}`,
  );
  for (const sample of load.errorSamples) report('fan-out', `error ${sample}`);
  const sinceFirstPost = notices.map((notice) => notice.receivedAt - load.firstPostAt);
  const at = (fraction: number) => formatMs(percentile(sinceFirstPost, fraction));
  report(
    'fan-out',
    `${notices.length}/${expected} outage notices; after the first POST: first ${at(0)}, 10% ${at(0.1)}, ` +
      `50% ${at(0.5)}, 90% ${at(0.9)}, last ${at(1)}`,
  );
}

/**
 * The outage notice is the first notice each audience gets about an incident (step 2; a server that fails its checks
 * gets nothing earlier), and each audience has an address of its own; its subject is worded per audience.
 */
function firstNoticeToEachAudience(incidentIds: Set<string>): (message: InboxMessage) => boolean {
  const noticed = new Set<string>();
  return (message) => {
    if (message.incidentId === undefined || !incidentIds.has(message.incidentId)) return false;
    const incidentAndAudience = `${message.incidentId} ${message.to}`;
    if (noticed.has(incidentAndAudience)) return false;
    noticed.add(incidentAndAudience);
    return true;
  };
}

/** Lets the incidents end (escalated: no closed port can be fixed), so the next figure starts on a quiet system. */
async function waitForIncidentsToEnd(client: Client, serverIds: string[]): Promise<void> {
  const started = Date.now();
  const outcomes = await Promise.all(
    serverIds.map((serverId) =>
      client.workflow
        .getHandle(incidentWorkflowId(serverId))
        .result()
        .then(
          (state: IncidentState) => state.outcome ?? 'none',
          (error: unknown) => {
            // A POST answered 503 never started its incident.
            if (error instanceof WorkflowNotFoundError) return 'never started';
            throw error;
          },
        ),
    ),
  );
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  const summary = [...counts].map(([outcome, count]) => `${count} ${outcome}`).join(', ');
  report('fan-out', `incidents ended ${formatMs(Date.now() - started)} after the notices: ${summary}`);
}
