import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../platform/loopback';
import { measureBatch } from './batch';
import { benchConfig, benchConfigDocument } from './bench-config';
import { openBenchInbox, type BenchInbox } from './bench-inbox';
import { startBenchStack, type BenchStack } from './bench-stack';
import { fanOutServerIds, measureFanOut } from './fan-out';
import { report, type Figure } from './figures';
import { measureStorm } from './storm';
import { prepareStormTarget, type StormTarget } from './storm-lab';
import type { TemporalBackend } from './temporal-backend';

const STORM_SERVER = 'bench-storm';
const BATCH_SERVER = 'bench-batch';

export const BENCHMARKS = ['storm', 'fan-out', 'batch'] as const;
export type Benchmark = (typeof BENCHMARKS)[number];

/** One run of the bench: on which Temporal backend, and which benchmarks. */
export interface BenchRunOptions {
  /** Starts the backend once the run's mailmend config exists, since a cluster's own workers load it. */
  startBackend(configDocument: Record<string, unknown>): Promise<TemporalBackend>;
  benchmarks: readonly Benchmark[];
}

/**
 * The inbox, the storm's lab (when it comes up), the config, the backend, mailmend's worker and webhook in this
 * process, and the figures of each benchmark, one after another; everything is stopped again before it returns.
 */
export async function benchOn(options: BenchRunOptions): Promise<Figure[]> {
  const inbox = await openBenchInbox();
  const reportsDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-bench-reports-'));
  const closedPort = await freeLoopbackPort();
  const storm = await prepareStormTarget(STORM_SERVER, closedPort);
  try {
    const fanOutServers = fanOutServerIds();
    const configOptions = {
      stormServer: storm.server,
      closedPortServerIds: [...fanOutServers, BATCH_SERVER],
      closedPort,
      inboxPort: inbox.port,
      reportsDir,
    };
    const backend = await options.startBackend(benchConfigDocument(configOptions));
    try {
      const stack = await startBenchStack(backend.address, benchConfig(configOptions), backend.taskQueue);
      try {
        return await measureAll({ stack, inbox, backend, storm, fanOutServers }, options.benchmarks);
      } finally {
        await stack.close();
      }
    } finally {
      await backend.stop();
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
  backend: TemporalBackend;
  storm: StormTarget;
  fanOutServers: string[];
}

/** One figure at a time, so none queues behind another; one that fails is reported and the others still run. */
async function measureAll(
  { stack, inbox, backend, storm, fanOutServers }: BenchRun,
  benchmarks: readonly Benchmark[],
): Promise<Figure[]> {
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
  const runs: Record<Benchmark, () => Promise<Figure[]>> = {
    storm: () => measureStorm(stack, STORM_SERVER, storm),
    'fan-out': () => measureFanOut(stack, fanOutServers, { backend: backend.processes, inbox }),
    batch: () => measureBatch(stack, BATCH_SERVER),
  };
  for (const name of benchmarks) if (!only || only.includes(name)) await measure(name, runs[name]);
  return figures;
}
