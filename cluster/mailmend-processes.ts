import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { tailFile, waitUntil } from '../lab/processes';
import { LOOPBACK } from '../platform/loopback';
import { DEFAULT_NAMESPACE } from '../platform/temporal/defaults';
import { TASK_QUEUE } from '../workflows/messages';
import { assertStillRunning, daemonPid, startDaemon, type DaemonCommand } from './daemons';
import { processLogFile, type ClusterLayout, type ClusterProcessName } from './layout';
import type { ClusterServiceSpec } from './topology';

const ENTRY_POINTS = { worker: 'worker/main', webhook: 'client/webhook/main' } as const;
const READY_TIMEOUT_MS = 60_000;
/** Task queue kinds in describeTaskQueue: workflow and activity. */
const TASK_QUEUE_TYPES = [1, 2] as const;

/** The repository root: one level above cluster/, or two above dist/cluster/. */
function repositoryRoot(): string {
  return path.resolve(__dirname, ...(path.extname(__filename) === '.ts' ? ['..'] : ['..', '..']));
}

/**
 * How a worker or webhook is started: the compiled entry point with plain node, or, when the cluster itself runs from
 * TypeScript (under tsx or ts-jest), the source through tsx. The marker is the entry point, so a reused pid is told
 * apart.
 */
function entryPointCommand(role: keyof typeof ENTRY_POINTS, env: Record<string, string>): DaemonCommand {
  const fromSource = path.extname(__filename) === '.ts';
  const root = repositoryRoot();
  const entry = fromSource
    ? path.join(root, `${ENTRY_POINTS[role]}.ts`)
    : path.join(root, 'dist', `${ENTRY_POINTS[role]}.js`);
  return {
    argv: [process.execPath, ...(fromSource ? ['--import', 'tsx'] : []), entry],
    env: { ...inheritedEnv(process.env), ...env },
    cwd: root,
    marker: entry,
  };
}

/**
 * Our TEMPORAL_* settings replace the caller's: a profile or TLS setting meant for another cluster must not leak in.
 * Settings that only one process may hold (a metrics port) or that the cluster decides itself are dropped too.
 */
const NOT_INHERITED = new Set(['MAILMEND_WORKER_METRICS', 'MAILMEND_CURRENT_IF_NONE', 'MAILMEND_WEBHOOK_HOST']);
function inheritedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.startsWith('TEMPORAL_') && !NOT_INHERITED.has(name)),
  );
}

function roleOf(spec: ClusterServiceSpec): keyof typeof ENTRY_POINTS {
  if (spec.role === 'worker' || spec.role === 'webhook') return spec.role;
  throw new Error(`${spec.name} is not a mailmend process`);
}

export function mailmendProcessPid(layout: ClusterLayout, spec: ClusterServiceSpec): Promise<number | undefined> {
  return daemonPid(layout, spec.name as ClusterProcessName);
}

export async function startMailmendProcess(layout: ClusterLayout, spec: ClusterServiceSpec): Promise<number> {
  // An envconfig file with an empty default profile: the caller's own (Temporal Cloud, say) must not add TLS or an API
  // key to these connections.
  await writeFile(layout.emptyTemporalConfigFile, '[profile.default]\n');
  const env = { ...spec.env, TEMPORAL_CONFIG_FILE: layout.emptyTemporalConfigFile };
  return startDaemon(layout, spec.name as ClusterProcessName, entryPointCommand(roleOf(spec), env));
}

/** The SDK's default worker identity, `pid@hostname`, which is how the server lists a poller. */
export function workerIdentity(pid: number): string {
  return `${pid}@${os.hostname()}`;
}

/** Identities polling the mailmend task queue, for workflow tasks and activity tasks alike. */
export async function taskQueuePollers(client: Client): Promise<{ workflow: string[]; activity: string[] }> {
  const [workflow, activity] = await Promise.all(
    TASK_QUEUE_TYPES.map(async (taskQueueType) => {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: DEFAULT_NAMESPACE,
        taskQueue: { name: TASK_QUEUE },
        taskQueueType,
      });
      return (pollers ?? []).map((poller) => poller.identity ?? '');
    }),
  );
  return { workflow: workflow ?? [], activity: activity ?? [] };
}

/** Waits until each worker polls for both workflow and activity tasks, failing early when one has died. */
export async function waitForWorkers(
  layout: ClusterLayout,
  client: Client,
  workers: { name: ClusterProcessName; pid: number }[],
): Promise<void> {
  await waitUntil(
    `workers ${workers.map(({ name, pid }) => `${name} (pid ${pid})`).join(' and ')} to poll task queue ${TASK_QUEUE}`,
    async () => {
      for (const { name, pid } of workers) await assertStillRunning(layout, name, pid);
      const pollers = await taskQueuePollers(client);
      return workers.every(
        ({ pid }) => pollers.workflow.includes(workerIdentity(pid)) && pollers.activity.includes(workerIdentity(pid)),
      );
    },
    {
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 500,
      detail: async () =>
        (
          await Promise.all(
            workers.map(async ({ name }) => `${name}:\n${await tailFile(processLogFile(layout, name))}`),
          )
        ).join('\n'),
    },
  );
}

/** Waits until the webhook answers `/healthz` with 200, which it does only once Temporal answers it. */
export async function waitForWebhook(
  layout: ClusterLayout,
  name: ClusterProcessName,
  pid: number,
  port: number,
): Promise<void> {
  await waitUntil(
    `webhook ${name} to answer http://${LOOPBACK}:${port}/healthz`,
    async () => {
      await assertStillRunning(layout, name, pid);
      try {
        return (await fetch(`http://${LOOPBACK}:${port}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok;
      } catch {
        return false;
      }
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 300, detail: () => tailFile(processLogFile(layout, name)) },
  );
}
