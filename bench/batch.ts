import { getIncidentState } from '../client/incidents';
import { alertmanagerPayload, type AlertmanagerWebhook } from '../client/webhook/alertmanager';
import type { BenchStack } from './bench-stack';
import { formatMs, report, type Figure } from './figures';
import { hasEnded, watchIncident } from './incident-watch';
import { describeStatuses, postConcurrently } from './load-support';
import { fingerprintOf } from './storm-alerts';

const BATCH_ALERTS = 1_000;
/** The webhook's default signal timeout: the sender must have its answer by then. */
const DEADLINE_MS = 5_000;
const END_TIMEOUT_MS = 120_000;

/** One Alertmanager group of `count` distinct alerts (one per node) for `serverId`, in one webhook body. */
function batchBody(serverId: string, count: number): AlertmanagerWebhook {
  const alerts = Array.from({ length: count }, (_, index) => {
    const labels = { alertname: 'MailNodeUnreachable', server: serverId, node: `node-${index}` };
    return alertmanagerPayload({ labels, fingerprint: fingerprintOf(labels) }).alerts;
  }).flat();
  const group = alertmanagerPayload({ labels: { alertname: 'MailNodeUnreachable', server: serverId } });
  return { ...group, alerts };
}

/** A batch of 1,000 alerts in one POST must be answered 2xx within the webhook's deadline. */
export async function measureBatch(stack: BenchStack, serverId: string): Promise<Figure[]> {
  const load = await postConcurrently(stack.alertmanagerUrl, [batchBody(serverId, BATCH_ALERTS)], 1);
  for (const sample of load.errorSamples) report('batch', `error ${sample}`);
  const state = await getIncidentState(stack.client, serverId);
  report(
    'batch',
    `${BATCH_ALERTS} alerts in one POST: ${describeStatuses(load)} in ${formatMs(load.maxMs)}; the incident holds ` +
      `${state.alerts.length} alert records, ${state.alertsReceived} received`,
  );
  const ended = await watchIncident(stack.client, serverId, hasEnded, END_TIMEOUT_MS);
  report('batch', `incident ${ended.state.phase}`);
  return [
    {
      name: `batch: ${BATCH_ALERTS} alerts, one POST`,
      goal: `2xx in < ${DEADLINE_MS / 1_000} s`,
      measured: `${describeStatuses(load)} in ${formatMs(load.maxMs)}`,
      met: load.errors === 0 && load.maxMs < DEADLINE_MS,
    },
  ];
}
