import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { approve, confirm } from '../../client/incidents';
import {
  DeploymentVersionNotReadyError,
  describeDeploymentVersion,
  setCurrentDeploymentVersion,
  setCurrentIfNone,
  versionDrainage,
  type VersionDrainage,
} from '../../platform/temporal/worker-deployment';
import { createMailmendWorker } from '../../worker/worker';
import { noteSignal, stateQuery, type IncidentPolicies } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import type { IncidentHandle } from '../support/incident-runs';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';
import { bundleWorkflowsQuietly, uniqueServerId, useSharedTemporal, workflowBundle } from '../support/temporal';

/**
 * A release with a breaking workflow change goes out while an incident is open: the incident stays pinned to the
 * version it started on and finishes there, on that version's workers, while new incidents start on the new one.
 */
const temporal = useSharedTemporal();
const RELEASE_B = require.resolve('../support/incident-release-b');
const VERSIONING_BEHAVIOR_PINNED = 1;

type Fakes = ReturnType<typeof createFakeActivities>;

interface RunningVersion {
  version: WorkerDeploymentVersion;
  fakes: Fakes;
  stop(): Promise<void>;
}

/** A worker of one Worker Deployment Version with fakes of its own, polling until `stop`. */
async function startVersion(
  version: WorkerDeploymentVersion,
  taskQueue: string,
  workflowsPath?: string,
): Promise<RunningVersion> {
  const fakes = createFakeActivities();
  const worker = await createMailmendWorker({
    connection: temporal.workerConnection,
    activities: fakes.activities,
    taskQueue,
    deployment: version,
    ...(workflowsPath ? { workflowsPath } : {}),
  });
  const running = worker.run();
  return {
    version,
    fakes,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

interface Release {
  a: RunningVersion;
  /** Starts release B's workers and makes B current. */
  deployB(): Promise<RunningVersion>;
  /** The incident raised while A was current, waiting for approval. */
  old: IncidentHandle;
  oldServerId: string;
  taskQueue: string;
}

/**
 * Runs `body` once version A is current and an incident it started waits for approval; both versions' workers stop
 * afterwards and every incident the test raised is terminated if still open.
 */
async function withIncidentOnA(
  policies: Partial<IncidentPolicies>,
  body: (release: Release) => Promise<void>,
): Promise<void> {
  const deploymentName = `mailmend-test-${randomUUID().slice(0, 8)}`;
  const taskQueue = `versioning-${randomUUID()}`;
  const oldServerId = uniqueServerId('mx-old');
  temporal.terminateAfterTest(`incident-${oldServerId}`);
  const running: RunningVersion[] = [];
  try {
    const a = await startVersion({ deploymentName, buildId: 'A' }, taskQueue);
    running.push(a);
    expect(await setCurrentDeploymentVersion(temporal.client, a.version, { timeoutMs: 30_000 })).toEqual({});
    const old = await raiseTestIncident(temporal.client, taskQueue, testInput(oldServerId, policies));
    await waitForState(old, (state) => state.phase === 'awaiting-approval');
    const deployB = async () => {
      const b = await startVersion({ deploymentName, buildId: 'B' }, taskQueue, RELEASE_B);
      running.push(b);
      const { previous } = await setCurrentDeploymentVersion(temporal.client, b.version, { timeoutMs: 30_000 });
      expect(previous).toEqual(a.version);
      return b;
    };
    await body({ a, deployB, old, oldServerId, taskQueue });
  } finally {
    await Promise.all(running.map((version) => version.stop()));
  }
}

async function approveAndConfirm(serverId: string, handle: WorkflowHandle): Promise<void> {
  await approve(temporal.client, serverId, { by: 'alice', comment: 'go' });
  await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
  await confirm(temporal.client, serverId, { by: 'alice' });
  await confirm(temporal.client, serverId, { by: 'bob' });
}

/** Every run of the workflow, first to latest, following continue-as-new. */
async function runsOf(workflowId: string, firstRunId: string): Promise<WorkflowHandle[]> {
  const runs: WorkflowHandle[] = [];
  for (let runId: string | null | undefined = firstRunId; runId;) {
    const handle: WorkflowHandle = temporal.client.workflow.getHandle(workflowId, runId);
    runs.push(handle);
    const { events } = await handle.fetchHistory();
    runId = events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return runs;
}

/** The build id of the worker that completed each workflow task, and how many tasks failed or timed out. */
async function workflowTasksOf(handles: WorkflowHandle[]): Promise<{ completedBy: Set<string>; failed: number }> {
  const events = (await Promise.all(handles.map(async (handle) => (await handle.fetchHistory()).events ?? []))).flat();
  return {
    completedBy: new Set(
      events
        .filter((event) => event.workflowTaskCompletedEventAttributes)
        .map((event) => event.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? 'unversioned'),
    ),
    failed: events.filter(
      (event) => event.workflowTaskFailedEventAttributes || event.workflowTaskTimedOutEventAttributes,
    ).length,
  };
}

async function versioningInfoOf(
  handle: WorkflowHandle,
): Promise<proto.api.workflow.v1.IWorkflowExecutionVersioningInfo> {
  const { raw } = await handle.describe();
  return raw.workflowExecutionInfo?.versioningInfo ?? {};
}

const pinnedTo = (buildId: string) => ({
  behavior: VERSIONING_BEHAVIOR_PINNED,
  deploymentVersion: { buildId, deploymentName: expect.stringMatching(/^mailmend-test-/) },
});

/** Polls the drainage of `version` until `predicate` holds; visibility trails the workflows by a moment. */
async function drainageUntil(
  version: WorkerDeploymentVersion,
  predicate: (drainage: VersionDrainage) => boolean,
  timeoutMs = 20_000,
): Promise<VersionDrainage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const drainage = await versionDrainage(temporal.client, version);
    if (predicate(drainage) || Date.now() > deadline) return drainage;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('making a Worker Deployment Version current', () => {
  test('a version whose workers never polled is refused after the timeout, saying what it waited for', async () => {
    const version = { deploymentName: `mailmend-test-${randomUUID().slice(0, 8)}`, buildId: 'never-polled' };
    expect(await describeDeploymentVersion(temporal.client, version)).toBeUndefined();
    const refusal = setCurrentDeploymentVersion(temporal.client, version, { timeoutMs: 1_500 });
    await expect(refusal).rejects.toBeInstanceOf(DeploymentVersionNotReadyError);
    await expect(refusal).rejects.toThrow(
      `Worker Deployment Version ${version.deploymentName}:never-polled is not current within 1500 ms: ` +
        'its workers have not polled a workflow task queue',
    );
  });

  test('the first version to poll a new deployment becomes current if asked; a later one never does', async () => {
    const deploymentName = `mailmend-test-${randomUUID().slice(0, 8)}`;
    const taskQueue = `versioning-${randomUUID()}`;
    const first = await startVersion({ deploymentName, buildId: 'first' }, taskQueue);
    try {
      expect(await setCurrentIfNone(temporal.client, first.version)).toBe('set');
      const second = await startVersion({ deploymentName, buildId: 'second' }, taskQueue);
      try {
        expect(await setCurrentIfNone(temporal.client, second.version)).toBe('already-chosen');
        const { workerDeploymentInfo } = await temporal.client.workflowService.describeWorkerDeployment({
          namespace: temporal.client.options.namespace,
          deploymentName,
        });
        expect(workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId).toBe('first');
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
    }
  });
});

describe('Worker Versioning: a release does not break the incidents already open', () => {
  test('an incident started on version A finishes on A after B, which cannot replay it, becomes current', async () => {
    await withIncidentOnA({}, async ({ a, deployB, old, oldServerId, taskQueue }) => {
      // Release B's change matters: it cannot replay the open incident, which release A's code still can.
      const openHistory = await old.fetchHistory();
      await expect(
        Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, openHistory, old.workflowId),
      ).resolves.toBeUndefined();
      await expect(
        Worker.runReplayHistory(
          { workflowBundle: await bundleWorkflowsQuietly(RELEASE_B) },
          openHistory,
          old.workflowId,
        ),
      ).rejects.toBeInstanceOf(DeterminismViolationError);

      const b = await deployB();
      const draining = await drainageUntil(a.version, (drainage) => drainage.openPinnedWorkflows === 1);
      expect(draining).toMatchObject({ status: 'draining', openPinnedWorkflows: 1 });
      expect(await describeDeploymentVersion(temporal.client, b.version)).toMatchObject({
        status: 'current',
        workflowTaskQueues: [taskQueue],
      });

      await approveAndConfirm(oldServerId, old);
      expect(await old.result()).toMatchObject({ phase: 'closed', outcome: 'closed', approvedBy: 'alice' });
      expect(await workflowTasksOf([old])).toEqual({ completedBy: new Set(['A']), failed: 0 });
      expect(await versioningInfoOf(old)).toMatchObject(pinnedTo('A'));
      expect(a.fakes.remediations).toEqual(['start-postfix']);
      expect(b.fakes.remediations).toEqual([]);
      const drained = await drainageUntil(a.version, (drainage) => drainage.openPinnedWorkflows === 0);
      expect(drained.openPinnedWorkflows).toBe(0);

      const newServerId = uniqueServerId('mx-new');
      temporal.terminateAfterTest(`incident-${newServerId}`);
      const fresh = await raiseTestIncident(temporal.client, taskQueue, testInput(newServerId));
      await waitForState(fresh, (state) => state.phase === 'awaiting-approval');
      expect(await versioningInfoOf(fresh)).toMatchObject(pinnedTo('B'));
      expect(await workflowTasksOf([fresh])).toEqual({ completedBy: new Set(['B']), failed: 0 });
      // Release B's own code ran it: its first command is B's one-second timer.
      const freshEvents = (await fresh.fetchHistory()).events ?? [];
      const firstCommand =
        freshEvents[freshEvents.findIndex((event) => event.workflowTaskCompletedEventAttributes) + 1];
      expect(Number(firstCommand?.timerStartedEventAttributes?.startToFireTimeout?.seconds)).toBe(1);
      expect(b.fakes.probes.map((probe) => probe.serverId)).toContain(newServerId);
      expect(a.fakes.probes.map((probe) => probe.serverId)).not.toContain(newServerId);
    });
  }, 240_000);

  test('an incident that continues as new after B became current carries its pin to A into the new run', async () => {
    await withIncidentOnA({ historyEventLimit: 80 }, async ({ a, deployB, old, oldServerId }) => {
      const b = await deployB();
      // Notes grow the history past the limit while the incident waits for approval, so the run hands over.
      let continued = await old.query(stateQuery);
      for (let note = 1; (continued.runs ?? 1) < 2 && note <= 40; note++) {
        await old.signal(noteSignal, { by: 'bob', text: `note ${note}` });
        continued = await waitForState(old, (state) =>
          state.timeline.some((entry) => entry.outcome === `note ${note}`),
        );
      }
      expect(continued).toMatchObject({ phase: 'awaiting-approval', runs: 2 });

      const latest = temporal.client.workflow.getHandle(old.workflowId);
      expect(await versioningInfoOf(latest)).toMatchObject(pinnedTo('A'));
      await approveAndConfirm(oldServerId, latest);
      expect(await latest.result()).toMatchObject({ phase: 'closed', outcome: 'closed', runs: 2 });
      const runs = await runsOf(old.workflowId, old.signaledRunId);
      expect(runs).toHaveLength(2);
      expect(await workflowTasksOf(runs)).toEqual({ completedBy: new Set(['A']), failed: 0 });
      expect(a.fakes.remediations).toEqual(['start-postfix']);
      expect(b.fakes.probes).toEqual([]);
    });
  }, 240_000);
});
