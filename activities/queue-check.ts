import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';
import type { CheckResult, UncheckedProbe } from '../workflows/messages';
import { readQueueState } from './host-evidence';
import type { MailHostAccess } from './mail-host';
import { describeSshFailure } from './ssh-failures';
import { describeUnanswered, recordUnanswered } from './unanswered-commands';

/** The deferred queue's answer: a check, or why it could not be made. */
export type QueueCheck = { check: CheckResult } | { unchecked: UncheckedProbe };

/**
 * Is the deferred queue under the server's threshold? Asked over SSH. A postqueue that hangs is killed at its timeout
 * and the queue files are counted instead, and the detail says so. A host that SSH cannot reach (a handshake that
 * never finishes, a refused connection, a changed host key) gives no answer: the check is unchecked, with the reason,
 * rather than a false alarm; the diagnosis stops on a changed key.
 */
export async function checkDeferredQueue(
  mailHost: MailHostAccess,
  server: ServerConfig & { ssh: NonNullable<ServerConfig['ssh']> },
  log: Logger,
): Promise<QueueCheck> {
  const started = Date.now();
  try {
    const { queue, unanswered } = await mailHost.withSsh(server, async (raw) => {
      const recording = recordUnanswered(raw);
      const read = await readQueueState(recording.session, server.host.postfixConfigDir, new Date());
      return { queue: read, unanswered: recording.unanswered };
    });
    const latencyMs = Date.now() - started;
    if ('error' in queue) {
      return { check: { ok: false, latencyMs, detail: queue.error, errorCode: 'QUEUE_UNREADABLE' } };
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
