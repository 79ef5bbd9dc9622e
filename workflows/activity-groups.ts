import { proxyActivities } from '@temporalio/workflow';
import type { MailmendActivities } from './activity-contract';
import { FailureType } from './failure-types';

// One group per retry policy: what an activity does decides how often it may be tried.
/**
 * Step 1 has a hard deadline: every attempt, retries included, must fit in it, and what has not answered by then is
 * no reason to stall the procedure.
 */
export function assessmentProbes(deadlineMs: number) {
  return proxyActivities<MailmendActivities>({
    scheduleToCloseTimeout: deadlineMs,
    startToCloseTimeout: deadlineMs,
    retry: { maximumAttempts: 3, initialInterval: '1 second' },
  });
}
export const probes = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});
// The round trip waits for real delivery, so it gets minutes, with heartbeats while it polls the mailbox.
export const roundTrips = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 2, initialInterval: '5 seconds' },
});
export const troubleshooting = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '3 minutes',
  retry: { maximumAttempts: 3, initialInterval: '5 seconds' },
});
export const notifications = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '5 seconds', backoffCoefficient: 3 },
});
// A fix touches a production host. A worker that dies while it runs stops heartbeating (the fix heartbeats every
// 10 s and on every command), so its attempt times out within 20 s and a second one runs on another worker. Not every
// catalog action is idempotent: those that are skip an effect already in place, and runRemediation refuses a retry
// of the others. A handshake that never finished ran nothing, and a second one would only wait on the same hung host.
export const remediation = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { maximumAttempts: 2, initialInterval: '1 second', nonRetryableErrorTypes: [FailureType.SshHandshakeTimeout] },
});
/** Incidents started before `remediation-survives-worker-loss` ran each fix once; their histories replay that. */
export const singleAttemptRemediation = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});
export const reporting = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});
