import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';
import type { CheckResult } from '../workflows/messages';
import { readQueueState } from './host-evidence';
import type { MailHostAccess } from './mail-host';

/**
 * Is the deferred queue under the server's threshold? Asked over SSH; a host that cannot be reached gives no answer
 * (undefined) rather than a false alarm, and a changed host key is left for the diagnosis to stop on.
 */
export async function checkDeferredQueue(
  mailHost: MailHostAccess,
  server: ServerConfig,
  log: Logger,
  timeoutMs: number,
): Promise<CheckResult | undefined> {
  const started = Date.now();
  try {
    const queue = await mailHost.withSsh(server, (session) =>
      readQueueState(session, server.host.postfixConfigDir, new Date(), undefined, timeoutMs),
    );
    const latencyMs = Date.now() - started;
    if ('error' in queue) return { ok: false, latencyMs, detail: queue.error, errorCode: 'QUEUE_UNREADABLE' };
    const threshold = server.host.deferredThreshold;
    const age = queue.oldestDeferredAgeSeconds !== undefined ? `, oldest ${queue.oldestDeferredAgeSeconds}s` : '';
    const reason = queue.delayReasons[0] ? `: ${queue.delayReasons[0]}` : '';
    return {
      ok: queue.deferred <= threshold,
      latencyMs,
      detail: `${queue.deferred} deferred (threshold ${threshold})${age}${reason}`,
      ...(queue.deferred > threshold ? { errorCode: 'DEFERRED_BACKLOG' } : {}),
    };
  } catch (error) {
    if (error instanceof ApplicationFailure && error.type === FailureType.HostKeyMismatch) {
      log.error({ err: error }, 'host key mismatch: the queue was not checked');
      return undefined;
    }
    log.warn({ err: error }, 'could not read the queue over SSH');
    return undefined;
  }
}
