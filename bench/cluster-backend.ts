import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { clusterDown, clusterUp, freeClusterBasePort, type ClusterInfo } from '../cluster';
import { descendantPids } from '../lab/processes';
import { formatMs, report } from './figures';
import type { TemporalBackend } from './temporal-backend';

/**
 * The bench's own task queue on the cluster. The cluster's two workers poll mailmend's queue as the current Worker
 * Deployment Version, so an incident started there would go to them, not to the worker being measured.
 */
export const BENCH_TASK_QUEUE = 'mailmend-bench';

// Below Linux's ephemeral range (32768 and up), so no outgoing connection takes one of the ports meanwhile.

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
    const basePort = await freeClusterBasePort();
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
