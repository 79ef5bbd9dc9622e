import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImapFlow } from 'imapflow';
import type { CheckResult } from '../workflows/messages';
import { TOKEN_HEADER } from './mail-roundtrip';
import type { DeliveryOutcome } from './probe-delivery';
import { ProbeFailure } from './probe-wire';

const POLL_INTERVAL_MS = 200;

export interface CanaryTarget {
  imap: ImapFlow;
  mailbox: string;
  /** For the login and SELECT. */
  timeoutMs: number;
  /** How long the token may take from the server's 250 to the canary's INBOX. */
  deliveryWaitMs: number;
}

/** Rejects with a ProbeFailure once `ms` pass; the caller closes the client so nothing keeps running. */
async function within<T>(work: Promise<T>, ms: number, waitingFor: string): Promise<T> {
  const controller = new AbortController();
  const timeout = sleep(ms, undefined, { signal: controller.signal }).then(() => {
    throw new ProbeFailure('ETIMEDOUT', `no answer within ${ms} ms waiting for ${waitingFor}`);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    controller.abort();
    timeout.catch(() => undefined);
  }
}

const STALE_TOKEN_MS = 24 * 60 * 60_000;

/**
 * Tokens that arrived after their probe gave up (every probe during a delivery outage) are deleted a day later, so
 * the canary does not fill up; younger ones may still belong to a probe or round trip that is waiting for them.
 */
async function deleteStaleTokens(imap: ImapFlow): Promise<void> {
  const before = new Date(Date.now() - STALE_TOKEN_MS);
  const stale = await imap
    .search({ header: { [TOKEN_HEADER.toLowerCase()]: true }, before }, { uid: true })
    .catch(() => false as const);
  if (stale && stale.length > 0) await imap.messageDelete(stale, { uid: true }).catch(() => false);
}

/** Searches for the token until it is there or the wait is over; a found message is deleted. */
async function findAndDeleteToken(imap: ImapFlow, token: string, waitMs: number): Promise<boolean> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const uids = await imap.search({ header: { [TOKEN_HEADER.toLowerCase()]: token } }, { uid: true });
    if (uids && uids.length > 0) {
      // The canary mailbox would otherwise fill up with one message per assessment.
      await imap.messageDelete(uids, { uid: true });
      await deleteStaleTokens(imap);
      return true;
    }
    if (performance.now() >= deadline) return false;
    await sleep(POLL_INTERVAL_MS);
    // NOOP lets the server report messages delivered since the last command.
    await imap.noop();
  }
}

async function tokenVerdict(target: CanaryTarget, delivery: DeliveryOutcome | undefined): Promise<string> {
  if (!delivery?.sent) {
    const why = delivery ? `SMTP delivery failed (${delivery.check.errorCode ?? 'error'})` : 'no delivery was tried';
    return `canary logged in and opened INBOX; no token was sent, as ${why}`;
  }
  const waitStarted = performance.now();
  const found = await within(
    findAndDeleteToken(target.imap, delivery.token, target.deliveryWaitMs),
    target.deliveryWaitMs + target.timeoutMs,
    `token ${delivery.token} in ${target.mailbox}`,
  );
  const queued = delivery.queueId ? ` (queued as ${delivery.queueId})` : '';
  if (!found) {
    throw new ProbeFailure(
      'TOKEN_NOT_DELIVERED',
      `the server accepted the token message${queued} but it did not arrive in ${target.mailbox} within ${target.deliveryWaitMs} ms`,
    );
  }
  const waitedMs = Math.round(performance.now() - waitStarted);
  return `canary logged in, opened INBOX and found token ${delivery.token}${queued} after ${waitedMs} ms`;
}

/**
 * Logs in as the canary, SELECTs INBOX, then waits for the token `smtpDelivery` sent: the receiving half of the
 * user's path. A failed delivery is that check's failure, so this one then only proves login and SELECT.
 */
export async function probeCanaryMailbox(
  target: CanaryTarget,
  delivery: Promise<DeliveryOutcome | undefined>,
): Promise<CheckResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const { imap } = target;
  try {
    await within(
      (async () => {
        await imap.connect();
        await imap.mailboxOpen('INBOX');
      })(),
      target.timeoutMs,
      'the canary login and SELECT INBOX',
    );
    const detail = await tokenVerdict(target, await delivery);
    return { ok: true, latencyMs: elapsed(), detail };
  } catch (error) {
    return { ok: false, latencyMs: elapsed(), ...canaryFailure(error) };
  } finally {
    await within(imap.logout(), 1_000, 'LOGOUT').catch(() => imap.close());
  }
}

function canaryFailure(error: unknown): { detail: string; errorCode: string } {
  if (error instanceof ProbeFailure) return { detail: error.detail, errorCode: error.errorCode };
  const failure = error as Error & { authenticationFailed?: boolean; responseText?: string; code?: string };
  const errorCode = failure.authenticationFailed ? 'AUTH_FAILED' : (failure.code ?? 'IMAP_ERROR');
  return { detail: failure.responseText ?? failure.message, errorCode };
}
