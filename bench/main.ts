import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { freeLoopbackPort } from '../platform/loopback';
import { startEmbeddedServer, type EmbeddedServer } from '../platform/temporal/dev-server';
import { resolveTemporalCli } from '../platform/temporal/cli/resolve';
import { measureBatch } from './batch';
import { benchConfig } from './bench-config';
import { openBenchInbox, type BenchInbox } from './bench-inbox';
import { startBenchStack, type BenchStack } from './bench-stack';
import { fanOutServerIds, measureFanOut } from './fan-out';
import { printSummary, report, type Figure } from './figures';
import { measureStorm } from './storm';
import { prepareStormTarget, type StormTarget } from './storm-lab';

const STORM_SERVER = 'bench-storm';
const BATCH_SERVER = 'bench-batch';

/**
 * `npm run bench`: the storm, the fan-out and the batch, one after another, on one embedded dev server with the
 * worker and the webhook in this process, as `npm start` runs them. Prints each figure's details, then a summary.
 */
async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Other work on the machine inflates every figure: say how busy it was.
  report('bench', `${os.availableParallelism()} cores, load average ${os.loadavg()[0]?.toFixed(2)} at the start`);
  const { executable } = await resolveTemporalCli({ env: process.env, onProgress: console.error });
  const temporal = await startEmbeddedServer({ executable });
  try {
    await benchOn(temporal);
  } finally {
    await temporal.stop();
  }
}

/** Everything but the dev server: the inbox, the storm's lab (when it comes up), the config, mailmend, the figures. */
async function benchOn(temporal: EmbeddedServer): Promise<void> {
  const inbox = await openBenchInbox();
  const reportsDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-bench-reports-'));
  const closedPort = await freeLoopbackPort();
  const storm = await prepareStormTarget(STORM_SERVER, closedPort);
  try {
    const fanOutServers = fanOutServerIds();
    const loaded = benchConfig({
      stormServer: storm.server,
      closedPortServerIds: [...fanOutServers, BATCH_SERVER],
      closedPort,
      inboxPort: inbox.port,
      reportsDir,
    });
    const stack = await startBenchStack(temporal.address, loaded);
    try {
      printSummary(await measureAll({ stack, inbox, temporal, storm, fanOutServers }));
    } finally {
      await stack.close();
    }
  } finally {
    await storm.close();
    await inbox.close();
    await rm(reportsDir, { recursive: true, force: true });
  }
}

interface BenchRun {
  stack: BenchStack;
  inbox: BenchInbox;
  temporal: EmbeddedServer;
  storm: StormTarget;
  fanOutServers: string[];
}

/** One figure at a time, so none queues behind another; one that fails is reported and the others still run. */
async function measureAll({ stack, inbox, temporal, storm, fanOutServers }: BenchRun): Promise<Figure[]> {
  const figures: Figure[] = [];
  const measure = async (name: string, run: () => Promise<Figure[]>): Promise<void> => {
    try {
      figures.push(...(await run()));
    } catch (error) {
      report(name, `failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      figures.push({ name, goal: 'runs', measured: `failed: ${(error as Error).message}`.slice(0, 120), met: false });
    }
  };
  const only = process.env.BENCH_ONLY?.split(',');
  const runs: [string, () => Promise<Figure[]>][] = [
    ['storm', () => measureStorm(stack, STORM_SERVER, storm)],
    ['fan-out', () => measureFanOut(stack, fanOutServers, { devServerPid: temporal.pid, inbox })],
    ['batch', () => measureBatch(stack, BATCH_SERVER)],
  ];
  for (const [name, run] of runs) if (!only || only.includes(name)) await measure(name, run);
  return figures;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
