import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { MailmendActivities } from '../../activities';
import { connectClient, connectWorker, localTemporalSettings } from '../../platform/temporal/connection';
import { startEmbeddedServer } from '../../platform/temporal/dev-server';
import { resolveTemporalCli } from '../../platform/temporal/cli/resolve';
import {
  approveSignal,
  approveUpdate,
  closeUpdate,
  confirmSignal,
  confirmUpdate,
  NO_CATALOG_ACTION,
  type IncidentPolicies,
} from '../../workflows/messages';
import { createFakeActivities, type FakeActivityOptions } from '../support/fake-activities';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';

/** The incidents whose histories the replay test keeps, each driven the way people would drive it. */
interface Scenario {
  fakes: FakeActivityOptions;
  /** Activities that replace the fakes' own, built from them. */
  activities?: (fakes: MailmendActivities) => Partial<MailmendActivities>;
  policies?: Partial<IncidentPolicies>;
  drive(handle: WorkflowHandle): Promise<void>;
}

/** The whole procedure as people drive it: one approval, then two confirmations once the checks have run. */
async function approveAndConfirm(handle: WorkflowHandle): Promise<void> {
  await waitForState(handle, (state) => state.phase === 'awaiting-approval');
  await handle.signal(approveSignal, { by: 'alice' });
  await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
  await handle.signal(confirmSignal, { by: 'alice' });
  await handle.signal(confirmSignal, { by: 'bob' });
}

const SCENARIOS: Record<string, Scenario> = {
  'unchecked-queue': {
    fakes: {
      host: { smtpUp: true },
      unchecked: [
        {
          check: 'deferred-queue',
          reason: 'SSH to mx-recorded:22 accepted the connection but did not finish its handshake within 10 s',
        },
      ],
    },
    drive: async () => undefined,
  },
  'users-channel-down': {
    fakes: { failingChannels: ['users-mail'] },
    drive: approveAndConfirm,
  },
  'happy-path': {
    fakes: {},
    drive: approveAndConfirm,
  },
  handover: {
    fakes: {
      recommendedAction: NO_CATALOG_ACTION,
      handover: {
        reason: 'mailmend cannot run start-postfix: SSH to mx-recorded:22 failed (connect ECONNREFUSED)',
        suggestedCommands: ["'postfix' '-c' '/etc/postfix' 'check'", "'postfix' '-c' '/etc/postfix' 'start'"],
      },
    },
    drive: async () => undefined,
  },
  'certificate-warning': {
    fakes: {
      host: { smtpUp: true },
      certificateWarnings: [
        {
          service: 'smtp',
          subject: 'CN=mx-recorded',
          issuer: 'CN=Recorded CA',
          validTo: '2030-01-10T00:00:00.000Z',
          daysLeft: 6,
        },
      ],
    },
    drive: async () => undefined,
  },
  'approve-alternative': {
    fakes: {
      hypotheses: [
        {
          cause: 'Postfix is not running',
          failureClass: 'not-running',
          source: 'rule',
          evidenceFor: ['postfix status exit 1'],
          evidenceAgainst: [],
          confidence: 0.5,
          actionId: 'start-postfix',
        },
        {
          cause: 'Postfix cannot write its queue',
          failureClass: 'permissions',
          source: 'postfix-queue-permissions',
          evidenceFor: ['queue file write error'],
          evidenceAgainst: [],
          confidence: 0.4,
          actionId: 'postfix-set-permissions',
        },
      ],
    },
    async drive(handle) {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(approveSignal, { by: 'alice', actionId: 'postfix-set-permissions' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'bob' });
    },
  },
  // Two distinct approvers for a high-risk fix, as Updates; the search attributes are upserted along the way.
  'two-approvers': {
    fakes: { recommendedAction: 'restart-postfix', recommendedRisk: 'high' },
    policies: { approvalsRequired: { low: 1, medium: 1, high: 2 } },
    async drive(handle) {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'alice' }] });
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'bob' }] });
    },
  },
  // The worker running the fix is lost: its attempt never heartbeats again, and the second attempt completes it.
  'worker-lost-mid-fix': {
    fakes: {},
    activities: (fakes) => ({
      async runRemediation(input) {
        if (Context.current().info.attempt === 1) await Context.current().cancelled;
        return fakes.runRemediation(input);
      },
    }),
    drive: approveAndConfirm,
  },
  'closed-by-person': {
    fakes: {},
    async drive(handle) {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.executeUpdate(closeUpdate, { args: [{ by: 'alice', reason: 'fixed by hand' }] });
    },
  },
  // A history limit this low makes the run continue as new as soon as it waits for approval; the next run takes
  // the approval and the confirmations as Updates. Both runs are recorded.
  'continued-with-updates': {
    fakes: {},
    policies: { historyEventLimit: 40 },
    async drive(handle) {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval' && (state.runs ?? 1) >= 2);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'alice' }] });
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'bob' }] });
    },
  },
};

/**
 * Records the history of one incident into test/histories, for the replay test. Record again only when a workflow
 * change is meant to be incompatible (and then put that change behind `patched()` instead, if incidents may be
 * running). Scenarios: happy-path (the default), handover,
 * certificate-warning, approve-alternative, two-approvers, worker-lost-mid-fix, closed-by-person,
 * continued-with-updates.
 *
 *   node --import tsx test/replay/record-history.ts [file name in test/histories] [scenario]
 */
async function main(): Promise<void> {
  const scenarioName = process.argv[3] ?? 'happy-path';
  const scenario = SCENARIOS[scenarioName];
  if (!scenario) throw new Error(`unknown scenario ${scenarioName}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const { executable } = await resolveTemporalCli({ env: process.env, onProgress: console.error });
  const server = await startEmbeddedServer({ executable });
  try {
    const file = path.join(__dirname, '..', 'histories', process.argv[2] ?? `${scenarioName}.json`);
    await record(server.address, scenario, file);
  } finally {
    await server.stop();
  }
}

async function record(address: string, scenario: Scenario, file: string): Promise<void> {
  const taskQueue = `record-${randomUUID()}`;
  const workerConnection = await connectWorker(localTemporalSettings(address));
  const { client, close: closeClient } = await connectClient(localTemporalSettings(address));
  const fakes = createFakeActivities(scenario.fakes).activities;
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowsPath: require.resolve('../../workflows'),
    activities: { ...fakes, ...scenario.activities?.(fakes) },
  });
  await worker.runUntil(() => runAndSave(client, taskQueue, scenario, file));
  await closeClient();
  await workerConnection.close();
}

/** Saves the history of every run: one file, or `<name>-run<N>.json` when the incident continued as new. */
async function runAndSave(client: Client, taskQueue: string, scenario: Scenario, file: string) {
  const started = await raiseTestIncident(client, taskQueue, testInput('mx-recorded', scenario.policies));
  const handle = client.workflow.getHandle(started.workflowId);
  await scenario.drive(handle);
  await handle.result();
  const histories: History[] = [];
  let runId: string | undefined = started.signaledRunId;
  while (runId) {
    const history: History = await client.workflow.getHandle(started.workflowId, runId).fetchHistory();
    histories.push(history);
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  histories.forEach((history, index) => {
    const target = histories.length === 1 ? file : file.replace(/\.json$/, `-run${index + 1}.json`);
    writeFileSync(target, historyToJSON(history) + '\n');
    console.log(`${history.events?.length ?? 0} history events written to ${target}`);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
