import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { getIncidentState } from '../client/incidents';
import type { BenchStack } from './bench-stack';
import { formatMs, report, type Figure } from './figures';
import { incidentHistory } from './incident-history';
import { hasEnded, watchIncident } from './incident-watch';
import { describeLatency, describeStatuses, postConcurrently, type LoadReport } from './load-support';
import { ownCpuSeconds } from './process-usage';
import { approveAfterStorm } from './storm-approval';
import { stormAlertSet, stormBodies } from './storm-alerts';
import { STORM_SCENARIO, type StormTarget } from './storm-lab';

const STORM_ALERTS = 10_000;
const STORM_CONCURRENCY = 50;
const P99_GOAL_MS = 50;
const HISTORY_GOAL_EVENTS = 500;
const OUTCOME_TIMEOUT_MS = 180_000;

/**
 * An alert storm on one server: Alertmanager resending twenty alerts, some flapping, 10,000 POSTs 50 at a time.
 * The webhook must answer fast and without errors, the incident's history must stay small, and the incident must
 * still take an approval afterwards, which needs the lab; without it the storm's incident just runs its course.
 */
export async function measureStorm(stack: BenchStack, serverId: string, target: StormTarget): Promise<Figure[]> {
  if (target.kind === 'lab') {
    await target.breakIt();
    report('storm', `lab broken with ${STORM_SCENARIO}`);
  } else {
    report('storm', `approval part skipped: ${target.whyNoLab}; the storm hits a closed-port server instead`);
  }
  const distinct = stormAlertSet(serverId);
  const flapping = distinct.filter((alert) => alert.flapping).length;
  report('storm', `${STORM_ALERTS} POSTs of ${distinct.length} distinct alerts (${flapping} flapping)`);
  const load = await stormTheWebhook(stack, serverId);
  await reportIncidentAfterStorm(stack.client, serverId);
  const decided =
    target.kind === 'lab'
      ? await approveAfterStorm(stack.client, serverId, target)
      : await outcomeWithoutLab(stack.client, serverId);
  return [...loadFigures(load), await historyFigure(stack.client, serverId), decided];
}

/** The POSTs, and how busy they kept this process's event loop, which serves the webhook and runs the activities. */
async function stormTheWebhook(stack: BenchStack, serverId: string): Promise<LoadReport> {
  const bodies = stormBodies(serverId, STORM_ALERTS);
  const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  const cpuBefore = ownCpuSeconds();
  eventLoopDelay.enable();
  const load = await postConcurrently(stack.alertmanagerUrl, bodies, STORM_CONCURRENCY);
  eventLoopDelay.disable();
  const cpu = ownCpuSeconds() - cpuBefore;
  const perSecond = Math.round(load.requests / (load.wallMs / 1_000));
  report(
    'storm',
    `${load.requests} POSTs in ${formatMs(load.wallMs)} (${perSecond}/s): ${describeLatency(load)}; ` +
      describeStatuses(load),
  );
  for (const sample of load.errorSamples) report('storm', `error ${sample}`);
  const delay = (percentile: number) => formatMs(eventLoopDelay.percentile(percentile) / 1e6);
  report(
    'storm',
    `worker + webhook process: ${cpu.toFixed(1)} CPU-s, event-loop delay p50 ${delay(50)}, p99 ${delay(99)}, ` +
      `max ${formatMs(eventLoopDelay.max / 1e6)}; load generator ${load.cpuSeconds.toFixed(1)} CPU-s`,
  );
  return load;
}

function loadFigures(load: LoadReport): Figure[] {
  return [
    {
      name: 'storm: webhook p99',
      goal: `<= ${P99_GOAL_MS} ms`,
      measured: describeLatency(load),
      met: load.p99Ms <= P99_GOAL_MS,
      reading: { amount: load.p99Ms, unit: 'ms' },
    },
    {
      name: 'storm: errors',
      goal: '0',
      measured: `${load.errors} of ${load.requests}`,
      met: load.errors === 0,
      reading: { amount: load.errors, unit: 'errors' },
    },
  ];
}

/** Right after the storm: what the incident took in, and its history so far. */
async function reportIncidentAfterStorm(client: Client, serverId: string): Promise<void> {
  const state = await getIncidentState(client, serverId);
  const { totalEvents } = await incidentHistory(client, serverId);
  report(
    'storm',
    `right after the storm the incident is in ${state.phase}, with ${totalEvents} history events, ` +
      `${state.alerts.length} alert records and ${state.alertsReceived} occurrences counted ` +
      '(repeats collapsed within the collapse window are counted when that alert is next signalled)',
  );
}

/** Once the incident has been decided (or has ended): the events of every run it took. */
async function historyFigure(client: Client, serverId: string): Promise<Figure> {
  const history = await incidentHistory(client, serverId);
  const runs = history.eventsPerRun.length;
  const perRun = history.eventsPerRun.join(' + ');
  return {
    name: 'storm: incident history, all runs',
    goal: `< ${HISTORY_GOAL_EVENTS} events`,
    measured: `${history.totalEvents} events in ${runs} run${runs === 1 ? '' : 's'} (${perRun})`,
    met: history.totalEvents < HISTORY_GOAL_EVENTS,
    reading: { amount: history.totalEvents, unit: 'events' },
  };
}

/** A closed-port server cannot be fixed, so there is nothing to approve: the outcome is reported instead. */
async function outcomeWithoutLab(client: Client, serverId: string): Promise<Figure> {
  const ended = await watchIncident(client, serverId, hasEnded, OUTCOME_TIMEOUT_MS);
  const phase = ended.reached ? ended.state.phase : `${ended.state.phase}, still open`;
  report('storm', `outcome without the lab: ${phase}: ${ended.state.outcomeReason ?? 'no reason yet'}`);
  return { name: 'storm: outcome (no lab: approval skipped)', goal: '-', measured: phase };
}
