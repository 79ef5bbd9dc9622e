import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';
import type { CheckResult, UncheckedProbe } from '../workflows/messages';
import { readQueueState } from './host-evidence';
import type { MailHostAccess } from './mail-host';
import type { ProbeDeadline } from './probe-deadline';
import { describeSshFailure } from './ssh-failures';
import { describeUnanswered, recordUnanswered } from './unanswered-commands';

/** The deferred queue's answer: a check, or why it could not be made. */
export type QueueCheck = { check: CheckResult } | { unchecked: UncheckedProbe };

/** Kept back from the probes' deadline for closing the SSH connection and handing the answer over. */
const ANSWER_MARGIN_MS = 500;

/**
 * Is the deferred queue under the server's threshold? Asked over SSH. A postqueue that hangs is killed at its timeout
 * and the queue files are counted instead, and the detail says so. A queue that was never counted (postqueue and the
 * count both failed or hung), or a host that SSH cannot reach (a handshake that never finishes, a refused connection,
 * a changed host key), gives no answer: the check is unchecked, with the reason, rather than a false alarm; the
 * diagnosis stops on a changed key. With the probes' `deadline`, the commands fit in what is left of it, so the
 * reason quotes the commands that hung rather than the deadline.
 */
export async function checkDeferredQueue(
  mailHost: MailHostAccess,
  server: ServerConfig & { ssh: NonNullable<ServerConfig['ssh']> },
  log: Logger,
  deadline?: Pick<ProbeDeadline, 'remainingMs'>,
): Promise<QueueCheck> {
  const started = Date.now();
  try {
    const { queue, unanswered } = await mailHost.withSsh(server, async (raw) => {
      const budgetMs = deadline === undefined ? undefined : deadline.remainingMs() - ANSWER_MARGIN_MS;
      const recording = recordUnanswered(raw, budgetMs);
      const read = await readQueueState(recording.session, server.host.postfixConfigDir, new Date());
      return { queue: read, unanswered: recording.unanswered };
    });
    const latencyMs = Date.now() - started;
    if ('error' in queue) {
      const reason = `the queue was never counted: ${queue.error}`;
      log.warn({ latencyMs }, `the queue was not checked: ${reason}`);
      return { unchecked: { check: 'deferred-queue', reason } };
    }
    const threshold = server.host.deferredThreshold;
    const age = queue.oldestDeferredAgeSeconds !== undefined ? `, oldest ${queue.oldestDeferredAgeSeconds}s` : '';
    const reason = queue.delayReasons[0] ? `: ${queue.delayReasons[0]}` : '';
    const counted =
      unanswered.length > 0
        ? `; ${unanswered.map(describeUnanswered).join('; ')}, so the queue files were counted`
        : '';
    return {
      check: {
        ok: queue.deferred <= threshold,
        latencyMs,
        detail: `${queue.deferred} deferred (threshold ${threshold})${age}${reason}${counted}`,
        ...(queue.deferred > threshold ? { errorCode: 'DEFERRED_BACKLOG' } : {}),
      },
    };
  } catch (error) {
    const reason = describeSshFailure(server.ssh, error);
    const hostKeyChanged = error instanceof ApplicationFailure && error.type === FailureType.HostKeyMismatch;
    log[hostKeyChanged ? 'error' : 'warn']({ err: error }, `the queue was not checked: ${reason}`);
    return { unchecked: { check: 'deferred-queue', reason } };
  }
}
