import type { Client } from '@temporalio/client';
import { approve, confirm } from '../../client/incidents';
import { clusterStatus, clusterUp } from '../../cluster';
import { labBreak } from '../../lab';
import { isProcessAlive, waitUntil } from '../../lab/processes';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId, type RemediationResult } from '../../workflows/messages';
import { activityRuns } from '../support/activity-history';
import {
  clusterWorkers,
  postfixMasterPid,
  postfixStartsLogged,
  waitForIncident,
  whenActivityStarted,
} from '../support/cluster-failover';
import { expectNoIncidentEndedBadly, NO_BAD_INCIDENT_ENDS } from '../support/incident-outcomes';
import { report, startTestCluster, type TestCluster } from '../support/test-cluster';

const WEBHOOK_A = 0;
const DIAGNOSIS_WAIT_MS = 150_000;
/** The remediation group's heartbeat timeout, then the retry, then verification with its round trip. */
const TAKEOVER_AND_VERIFY_WAIT_MS = 180_000;
const HEARTBEAT_TIMEOUT_MS = 20_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster('worker-failover');
}, 600_000);

afterAll(async () => {
  await cluster?.close();
}, 180_000);

/** Where the lab's Postfix stands while the fix is taken over: the first master seen running, and when. */
interface PostfixWatch {
  firstMasterPid?: number;
  firstUpAt?: number;
  stop(): Promise<void>;
}

function watchPostfixComingUp(): PostfixWatch {
  let watching = true;
  const watch: PostfixWatch = {
    async stop() {
      watching = false;
      await done;
    },
  };
  const done = (async () => {
    while (watching && watch.firstMasterPid === undefined) {
      const pid = await postfixMasterPid(cluster.lab);
      if (pid !== undefined) Object.assign(watch, { firstMasterPid: pid, firstUpAt: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return watch;
}

describe('a worker SIGKILLed in the middle of a fix', () => {
  test('the other worker takes the fix over once the heartbeat stops, Postfix is started once, the incident closes', async () => {
    await cluster.withClient(async (client: Client) => {
      const serverId = cluster.serverId;
      const handle = client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
      const workers = await clusterWorkers(cluster.stateDir);

      await labBreak(cluster.labStateDir, 'postfix-stopped');
      expect(await postfixMasterPid(cluster.lab)).toBeUndefined();
      const logBefore = await postfixStartsLogged(cluster.lab);
      const posted = await cluster.postAlert(WEBHOOK_A, { alertname: 'MailServerDown' });
      expect(posted.status).toBe(202);
      const awaiting = await waitForIncident(
        client,
        serverId,
        'awaiting approval',
        (state) => state.phase === 'awaiting-approval',
        DIAGNOSIS_WAIT_MS,
      );
      expect({ phase: awaiting.phase, action: awaiting.pendingApproval?.actionId }).toEqual({
        phase: 'awaiting-approval',
        action: 'start-postfix',
      });

      // Watch before approving: the fix may be started by a worker before the Update returns.
      const firstAttempt = whenActivityStarted(handle, 'runRemediation', { intervalMs: 50 });
      const approval = approve(client, serverId, { by: 'alice', comment: 'approved for the worker failover test' });
      const started = await firstAttempt;
      const victim = workers.find((worker) => worker.identity === started.identity);
      if (!victim) {
        throw new Error(
          `the fix was started by ${started.identity}, not by a cluster worker: ${JSON.stringify(workers)}`,
        );
      }
      process.kill(victim.pid, 'SIGKILL');
      const killedAt = Date.now();
      const postfix = watchPostfixComingUp();
      await approval;
      const survivor = workers.find((worker) => worker !== victim);
      report(
        `worker-failover: runRemediation attempt ${started.attempt} seen started by ${victim.name} ` +
          `(${victim.identity}); SIGKILL ${killedAt - started.seenAt} ms after it was seen`,
      );
      await waitUntil(`${victim.name} (pid ${victim.pid}) to die`, () => !isProcessAlive(victim.pid), {
        timeoutMs: 5_000,
      });

      const verifying = await waitForIncident(
        client,
        serverId,
        'verified after the fix',
        (state) => state.phase === 'verification' && state.roundTrip !== undefined,
        TAKEOVER_AND_VERIFY_WAIT_MS,
      );
      await postfix.stop();
      expect(verifying.phase).toBe('verification');

      const [fix, ...otherFixes] = await activityRuns(handle, 'runRemediation');
      expect(otherFixes).toEqual([]);
      // A first attempt that completed before the SIGKILL landed would show here as attempt 1 by the victim.
      if (fix?.started?.attempt === 1) {
        throw new Error(
          `race lost: ${victim.name} completed the fix before the SIGKILL landed; nothing was taken over`,
        );
      }
      expect(fix?.started).toMatchObject({
        attempt: 2,
        identity: survivor?.identity,
        previousAttemptFailure: expect.stringMatching(/^timeout HEARTBEAT/),
      });
      expect(fix?.closed?.kind).toBe('completed');
      const takeoverMs = (fix?.started?.at ?? 0) - killedAt;
      const completedMs = (fix?.closed?.at ?? 0) - killedAt;
      const result = fix?.result as RemediationResult;

      // Exactly one start reached the lab's Postfix, by whichever attempt got that far.
      const firstAttemptStartedPostfix = postfix.firstUpAt !== undefined && postfix.firstUpAt < (fix?.started?.at ?? 0);
      report(
        `worker-failover: takeover SIGKILL -> attempt 2 started on ${survivor?.name} ${takeoverMs} ms, ` +
          `-> completed ${completedMs} ms (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms); Postfix started by ` +
          `attempt ${firstAttemptStartedPostfix ? 1 : 2}; attempt 2 ${result.alreadyApplied ? 'found it already in effect' : 'ran postfix check and start'}`,
      );
      expect(takeoverMs).toBeGreaterThan(0);
      expect(takeoverMs).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 15_000);
      expect(result).toMatchObject({
        actionId: 'start-postfix',
        exitCode: 0,
        alreadyApplied: firstAttemptStartedPostfix,
      });
      const logAfter = await postfixStartsLogged(cluster.lab);
      expect({
        starts: logAfter.starts - logBefore.starts,
        alreadyRunning: logAfter.alreadyRunning - logBefore.alreadyRunning,
      }).toEqual({ starts: 1, alreadyRunning: 0 });

      await confirm(client, serverId, { by: 'carol' });
      const closed = await waitForIncident(client, serverId, 'closed', () => false, TAKEOVER_AND_VERIFY_WAIT_MS);
      expect({ outcome: closed.outcome, remediations: closed.remediations.map((ran) => ran.actionId) }).toEqual({
        outcome: 'closed',
        remediations: ['start-postfix'],
      });
      expect(closed.timeline.map((entry) => entry.event)).toEqual(expect.arrayContaining(['ran start-postfix']));
      // The master started by the fix still runs: nothing started it again or restarted it.
      expect(postfix.firstMasterPid).toBeDefined();
      expect(await postfixMasterPid(cluster.lab)).toBe(postfix.firstMasterPid);
      expect(await postfixStartsLogged(cluster.lab)).toEqual(logAfter);

      // `cluster up` starts what is missing: the killed worker comes back, and it alone.
      await clusterUp({ stateDir: cluster.stateDir });
      const status = await clusterStatus(cluster.stateDir);
      expect(status.allUp).toBe(true);
      const restarted = await clusterWorkers(cluster.stateDir);
      expect(restarted.find((worker) => worker.name === survivor?.name)?.pid).toBe(survivor?.pid);
      expect(restarted.find((worker) => worker.name === victim.name)?.pid).not.toBe(victim.pid);
    });
  }, 600_000);

  test(
    NO_BAD_INCIDENT_ENDS,
    async () => {
      const ends = await cluster.withClient((client) => expectNoIncidentEndedBadly(client, cluster.incidents()));
      expect(ends.length).toBeGreaterThan(0);
    },
    120_000,
  );
});
