import { proxyActivities } from '@temporalio/workflow';

const { probeServer } = proxyActivities<{ probeServer(): Promise<void> }>({
  startToCloseTimeout: '1s',
  retry: { maximumAttempts: 1 },
});

/**
 * Ends the way issue 10's incident did, so a test can prove the outcome check catches it: a probe that never answers
 * outlives its timeout and the failure escapes the workflow, which ends Failed. It runs under the incident's type name.
 */
export async function mailOutageIncident(): Promise<void> {
  await probeServer();
}
