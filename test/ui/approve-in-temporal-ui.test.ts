import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { resolveTemporalCli } from '../../platform/temporal/cli/resolve';
import { startEmbeddedServer, type EmbeddedServer } from '../../platform/temporal/dev-server';
import { incidentWorkflowId } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { useForAllTests } from '../support/fixture';
import { expectNoIncidentEndedBadly } from '../support/incident-outcomes';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';
import { freePort } from '../support/processes';
import { connectTestClient, connectTestWorker, uniqueServerId, withWorker } from '../support/temporal';
import { findChromium, launchChromium, missingChromiumMessage } from './browser';
import { WorkflowPage } from './temporal-ui-page';

const chromiumPath = findChromium(process.env);
const missingChromium = chromiumPath === undefined ? missingChromiumMessage(process.env) : undefined;
if (missingChromium && !missingChromium.fail) console.warn(missingChromium.message);
const describeWithBrowser = missingChromium && !missingChromium.fail ? describe.skip : describe;

/** Each run writes its screenshots here; docs/images/ holds a copy of one good run for the README. */
const artifactsDir = process.env.MAILMEND_TEST_ARTIFACTS ?? path.join(os.tmpdir(), 'mailmend-test-artifacts');

describeWithBrowser('approving from the Temporal Web UI', () => {
  const browser = useForAllTests(
    'headless Chromium',
    () => {
      if (chromiumPath === undefined) throw new Error(missingChromium?.message);
      return launchChromium(chromiumPath);
    },
    (running: Browser) => running.close(),
  );

  // The shared dev server runs without its UI, so this file starts one with it.
  const temporal = useForAllTests(
    'a dev server with its Web UI',
    async () => {
      const { executable } = await resolveTemporalCli({ env: process.env, onProgress: (line) => console.log(line) });
      const server = await startEmbeddedServer({ executable, uiPort: await freePort() });
      const client = await connectTestClient(server.address);
      return { server, client, worker: await connectTestWorker(server.address) };
    },
    async ({ server, client, worker }) => {
      await client.close();
      await worker.close();
      await server.stop();
    },
  );

  test("the UI's Send a Signal dialog approves the pending fix; a non-approver's signal is only recorded", async () => {
    const { server, client, worker } = temporal();
    const serverId = uniqueServerId('mx-ui');
    const taskQueue = `test-${randomUUID()}`;
    const fakes = createFakeActivities();
    mkdirSync(artifactsDir, { recursive: true });

    await withWorker(worker, taskQueue, fakes.activities, async () => {
      // Long timeouts: the waits must end with the UI's signals, never with an escalation branch.
      const handle = await raiseTestIncident(
        client.client,
        taskQueue,
        testInput(serverId, { approvalTimeoutMs: 600_000, confirmationTimeoutMs: 600_000 }),
      );
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      const page = await browser().newPage({ viewport: { width: 1280, height: 800 } });
      const workflowPage = await WorkflowPage.open(page, uiUrlOf(server), incidentWorkflowId(serverId));

      const refusedDialog = await workflowPage.fillSignalDialog('approve', { by: 'mallory' });
      await workflowPage.submitSignalDialog(refusedDialog);
      const refused = await waitForState(handle, (state) => state.timeline.some((e) => e.event === 'approve ignored'));
      expect(refused.phase).toBe('awaiting-approval');
      expect(refused.approvedBy).toBeUndefined();
      expect(refused.timeline).toContainEqual(
        expect.objectContaining({ event: 'approve ignored', outcome: 'mallory is not a listed approver' }),
      );

      const approveDialog = await workflowPage.fillSignalDialog('approve', { by: 'alice' });
      await page.screenshot({ path: path.join(artifactsDir, 'temporal-ui-approve.png') });
      await workflowPage.submitSignalDialog(approveDialog);
      // Verification waits for people's confirmations, so the phase holds still while the UI queries it.
      const approved = await waitForState(
        handle,
        (state) => state.phase === 'verification' && state.verification !== undefined,
      );
      expect(approved.approvedBy).toBe('alice');
      expect(approved.timeline).toContainEqual(expect.objectContaining({ event: 'approved', actor: 'alice' }));
      expect(fakes.remediations).toEqual(['start-postfix']);

      const { events } = await handle.fetchHistory();
      const signals = (events ?? []).flatMap((event) =>
        event.workflowExecutionSignaledEventAttributes
          ? [event.workflowExecutionSignaledEventAttributes.signalName]
          : [],
      );
      // The alert that started the incident, then the UI's two signals: it sent signals, not Updates.
      expect(signals).toEqual(['alert', 'approve', 'approve']);

      // What the person sees next: the UI's own query of the incident shows it past the approval.
      const stateInUi = await workflowPage.runStateQuery();
      expect(stateInUi).toContain('"phase": "verification"');
      await page.screenshot({ path: path.join(artifactsDir, 'temporal-ui-approved.png') });
      await page.close();

      // The incident waits for confirmations nobody sends here: closed as a person would, while the worker runs.
      await expectNoIncidentEndedBadly(client.client, { taskQueues: [taskQueue] });
    });
  });
});

function uiUrlOf(server: EmbeddedServer): string {
  if (!server.uiUrl) throw new Error('the dev server was started without its Web UI');
  return server.uiUrl;
}
