import os from 'node:os';
import type { Client } from '@temporalio/client';
import { alertmanagerPayload } from '../client/webhook/alertmanager';
import type { InboxMessage } from '../drill/notification-inbox';
import { AUDIENCES, incidentWorkflowId, type IncidentState } from '../workflows/messages';
import { collectNotices, type BenchInbox } from './bench-inbox';
import { bareSignalWithStart } from './dev-server-baseline';
import type { BenchStack } from './bench-stack';
import { formatMs, report, type Figure } from './figures';
import { describeLatency, describeStatuses, percentile, postConcurrently, type LoadReport } from './load-support';
import { cpuSecondsOf, formatMemory, ownCpuSeconds, ownResidentMemory, residentMemoryOf } from './process-usage';

const FAN_OUT_SERVERS = 200;
const NOTICES_GOAL_MS = 10_000;
const P99_GOAL_MS = 250;
const WAIT_MS = 120_000;

/** The fan-out's servers, each on the closed port. */
export function fanOutServerIds(): string[] {
  return Array.from({ length: FAN_OUT_SERVERS }, (_, index) => `bench-fan-${String(index).padStart(3, '0')}`);
}

interface FanOutProcesses {
  devServerPid: number | undefined;
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
  const incidentIds = new Set(serverIds.map(incidentWorkflowId));
  const expected = serverIds.length * AUDIENCES.length;
  const isOutageNotice = (message: InboxMessage) =>
    message.incidentId !== undefined && incidentIds.has(message.incidentId) && message.subject.includes(' outage: ');
  const bodies = serverIds.map((server) => alertmanagerPayload({ labels: { alertname: 'MailServerDown', server } }));
  report(
    'fan-out',
    `dev server alone, signal-with-start: ${await bareSignalWithStart(stack.client, serverIds.length)}`,
  );
  const cpuBefore = cpuNow(processes);
  const [load, { notices, cpuAfter }] = await Promise.all([
    postConcurrently(stack.alertmanagerUrl, bodies, serverIds.length),
    collectNotices(processes.inbox, isOutageNotice, expected, WAIT_MS).then((notices) => ({
      notices,
      cpuAfter: cpuNow(processes),
    })),
  ]);
  const memory = { mailmend: ownResidentMemory(), devServer: residentMemoryOf(processes.devServerPid) };
  reportProgress(load, notices, expected);
  const lastNotice = notices.length === expected ? notices.at(-1) : undefined;
  reportCpu(cpuBefore, cpuAfter, ((lastNotice?.receivedAt ?? Date.now()) - load.firstPostAt) / 1_000, load);
  await waitForIncidentsToEnd(stack.client, serverIds);
  const noticesMs = lastNotice ? lastNotice.receivedAt - load.firstPostAt : undefined;
  return [
    {
      name: `fan-out: ${expected} outage notices`,
      goal: `<= ${NOTICES_GOAL_MS / 1_000} s`,
      measured:
        noticesMs !== undefined ? formatMs(noticesMs) : `${notices.length} of ${expected} in ${WAIT_MS / 1_000} s`,
      met: noticesMs !== undefined && noticesMs <= NOTICES_GOAL_MS,
    },
    {
      name: 'fan-out: webhook p99',
      goal: `<= ${P99_GOAL_MS} ms`,
      measured: describeLatency(load),
      met: load.p99Ms <= P99_GOAL_MS,
    },
    { name: 'fan-out: errors', goal: '0', measured: `${load.errors} of ${load.requests}`, met: load.errors === 0 },
    { name: 'fan-out: RSS, mailmend process (worker + webhook)', goal: '-', measured: formatMemory(memory.mailmend) },
    { name: 'fan-out: RSS, Temporal dev server process', goal: '-', measured: formatMemory(memory.devServer) },
  ];
}

interface CpuSeconds {
  mailmend: number;
  devServer: number | undefined;
  inbox: number | undefined;
}

function cpuNow({ devServerPid, inbox }: FanOutProcesses): CpuSeconds {
  return { mailmend: ownCpuSeconds(), devServer: cpuSecondsOf(devServerPid), inbox: cpuSecondsOf(inbox.pid) };
}

/** Who used the machine's CPU while the notices went out: where the time went when every core was busy. */
function reportCpu(before: CpuSeconds, after: CpuSeconds, wallSeconds: number, load: LoadReport): void {
  const used = (from: number | undefined, to: number | undefined) =>
    from === undefined || to === undefined ? 'unknown' : `${(to - from).toFixed(1)} s`;
  const cores = os.availableParallelism();
  report(
    'fan-out',
    `CPU from the first POST to the last notice (${wallSeconds.toFixed(1)} s wall, ${cores} cores = ` +
      `${(wallSeconds * cores).toFixed(1)} CPU-s): dev server ${used(before.devServer, after.devServer)}, ` +
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

/** Lets the incidents end (escalated: no closed port can be fixed), so the next figure starts on a quiet system. */
async function waitForIncidentsToEnd(client: Client, serverIds: string[]): Promise<void> {
  const started = Date.now();
  const outcomes = await Promise.all(
    serverIds.map((serverId) =>
      client.workflow
        .getHandle(incidentWorkflowId(serverId))
        .result()
        .then((state: IncidentState) => state.outcome ?? 'none'),
    ),
  );
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  const summary = [...counts].map(([outcome, count]) => `${count} ${outcome}`).join(', ');
  report('fan-out', `incidents ended ${formatMs(Date.now() - started)} after the notices: ${summary}`);
}
