import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { CLUSTER_PORT_SPAN, clusterDown, clusterUp, type ClusterInfo } from '../cluster';
import { descendantPids, isListening } from '../lab/processes';
import { formatMs, report } from './figures';
import type { TemporalBackend } from './temporal-backend';

/**
 * The bench's own task queue on the cluster. The cluster's two workers poll mailmend's queue as the current Worker
 * Deployment Version, so an incident started there would go to them, not to the worker being measured.
 */
export const BENCH_TASK_QUEUE = 'mailmend-bench';

// Below Linux's ephemeral range (32768 and up), so no outgoing connection takes one of the ports meanwhile.
const BASE_PORT_RANGE = { from: 20_000, to: 32_768 - CLUSTER_PORT_SPAN };

/**
 * A `mailmend cluster` in a temporary state directory on free ports: PostgreSQL, the Temporal server on it, the UI,
 * and its own two workers and two webhooks, which load `configDocument` and sit idle while the bench measures its
 * worker and webhook against the cluster's frontend. Stopping it stops every process and removes the directory.
 */
export async function startClusterBackend(configDocument: Record<string, unknown>): Promise<TemporalBackend> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-bench-cluster-'));
  const configFile = path.join(dir, 'mailmend.yaml');
  const stateDir = path.join(dir, 'cluster');
  const remove = async (): Promise<void> => {
    await clusterDown(stateDir);
    await rm(dir, { recursive: true, force: true });
  };
  let info: ClusterInfo;
  try {
    // Run as root, the cluster starts PostgreSQL as the postgres user, which must reach its data directory in here.
    await chmod(dir, 0o711);
    await writeFile(configFile, stringifyYaml(configDocument));
    const basePort = await freeBasePort();
    info = await clusterUp({ stateDir, configFile, basePort, onProgress: (line) => report('cluster', line) });
  } catch (error) {
    await remove().catch(() => undefined);
    throw error;
  }
  report(
    'cluster',
    `up in ${formatMs(info.startupMs)}: frontend ${info.frontendAddress}, task queue ${BENCH_TASK_QUEUE}`,
  );
  const stopOnSignal = stopBeforeExit(remove);
  const pidOf = (name: string) => info.services.find((service) => service.name === name)?.pid;
  const postgresqlPid = pidOf('postgresql');
  return {
    name: 'cluster',
    address: info.frontendAddress,
    taskQueue: BENCH_TASK_QUEUE,
    processes: {
      name: 'Temporal server',
      processName: 'Temporal server process',
      pid: pidOf('temporal'),
      databasePids: () => (postgresqlPid === undefined ? [] : [postgresqlPid, ...descendantPids([postgresqlPid])]),
    },
    stop: async () => {
      stopOnSignal.cancel();
      await remove();
    },
  };
}

/** A base port with the cluster's whole span free. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = BASE_PORT_RANGE.from + Math.floor(Math.random() * (BASE_PORT_RANGE.to - BASE_PORT_RANGE.from));
    const taken = await Promise.all(
      Array.from({ length: CLUSTER_PORT_SPAN }, (_, offset) => isListening(base + offset, undefined, 200)),
    );
    if (!taken.some(Boolean)) return base;
  }
  throw new Error(`found no ${CLUSTER_PORT_SPAN} free consecutive loopback ports for the cluster`);
}

/** The cluster's processes are daemons that outlive the bench: an interrupted run stops them before it exits. */
function stopBeforeExit(stop: () => Promise<void>): { cancel(): void } {
  const onSignal = (signal: NodeJS.Signals): void => {
    report('cluster', `${signal}: stopping the cluster`);
    void stop()
      .catch((error: unknown) => console.error(error))
      .finally(() => process.exit(128 + os.constants.signals[signal]));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const signal of signals) process.once(signal, onSignal);
  return { cancel: () => signals.forEach((signal) => process.off(signal, onSignal)) };
}
