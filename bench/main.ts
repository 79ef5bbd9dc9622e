import os from 'node:os';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { BENCHMARKS, benchOn } from './bench-run';
import { benchTheCluster } from './cluster-process';
import { printSummary, report } from './figures';
import { printSideBySide } from './side-by-side';
import { startDevServerBackend } from './temporal-backend';

const USAGE = 'usage: npm run bench [-- --cluster]';

/**
 * `npm run bench`: the storm, the fan-out and the batch, one after another, on one embedded dev server with the
 * worker and the webhook in this process, as `npm start` runs them. Prints each figure's details, then a summary.
 * With `--cluster`, then the storm and the fan-out again with a `mailmend cluster` as the Temporal backend, its
 * summary, and both side by side with their ratios.
 */
async function main(): Promise<void> {
  const { cluster } = parseArguments(process.argv.slice(2));
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Other work on the machine inflates every figure: say how busy it was.
  report('bench', `${os.availableParallelism()} cores, load average ${os.loadavg()[0]?.toFixed(2)} at the start`);
  const devServerFigures = await benchOn({ startBackend: startDevServerBackend, benchmarks: BENCHMARKS });
  if (cluster) console.log('\ndev server');
  printSummary(devServerFigures);
  if (!cluster) return;
  console.log();
  const clusterFigures = await benchTheCluster();
  console.log('\ncluster');
  printSummary(clusterFigures);
  printSideBySide(devServerFigures, clusterFigures);
}

function parseArguments(args: string[]): { cluster: boolean } {
  const unknown = args.filter((arg) => arg !== '--cluster');
  if (unknown.length > 0) {
    console.error(`unknown argument${unknown.length === 1 ? '' : 's'}: ${unknown.join(' ')}\n${USAGE}`);
    process.exit(2);
  }
  return { cluster: args.includes('--cluster') };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
