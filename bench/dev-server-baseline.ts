import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { alertsSignal, WORKFLOW_TYPE, type AlertBatch } from '../workflows/messages';
import { formatMs } from './figures';
import { percentile } from './load-support';

/**
 * The floor under the fan-out's webhook latency: `count` signal-with-starts sent at once straight to the dev server,
 * without the webhook, on a task queue no worker polls (so nothing else competes). The runs are terminated after.
 *
 * @example console.log(await bareSignalWithStart(client, 200)); // '200 at once: p50 1.2 s, p99 1.8 s'
 */
export async function bareSignalWithStart(client: Client, count: number): Promise<string> {
  const taskQueue = `bench-no-worker-${randomUUID()}`;
  const batch: AlertBatch = { alerts: [] };
  const latencies = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const sentAt = performance.now();
      await client.workflow.signalWithStart(WORKFLOW_TYPE, {
        workflowId: `${taskQueue}-${index}`,
        taskQueue,
        args: [],
        signal: alertsSignal,
        signalArgs: [batch],
      });
      return performance.now() - sentAt;
    }),
  );
  await Promise.all(
    latencies.map((_, index) => client.workflow.getHandle(`${taskQueue}-${index}`).terminate('bench baseline done')),
  );
  const sorted = latencies.sort((a, b) => a - b);
  return `${count} at once: p50 ${formatMs(percentile(sorted, 0.5))}, p99 ${formatMs(percentile(sorted, 0.99))}`;
}
