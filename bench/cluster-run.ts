import os from 'node:os';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { benchOn } from './bench-run';
import { startClusterBackend } from './cluster-backend';
import { printSummary, report, type Figure } from './figures';

/** What the cluster run sends the bench that forked it, once every figure is in. */
export interface ClusterRunResult {
  figures: Figure[];
}

/**
 * The storm and the fan-out against a cluster, in a process of its own (see `cluster-process.ts`): the same worker,
 * webhook, inbox, lab and config as the dev server's run, only the Temporal backend differs.
 */
async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  report('bench', `cluster run: load average ${os.loadavg()[0]?.toFixed(2)} at the start`);
  const figures = await benchOn({ startBackend: startClusterBackend, benchmarks: ['storm', 'fan-out'] });
  const send = process.send?.bind(process);
  // Run directly rather than forked: the cluster's summary alone.
  if (!send) return printSummary(figures);
  const result: ClusterRunResult = { figures };
  await new Promise<void>((resolve, reject) =>
    send(result, (error: Error | null) => (error ? reject(error) : resolve())),
  );
  process.disconnect();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
