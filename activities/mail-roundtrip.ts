import { randomUUID } from 'node:crypto';
import { heartbeat } from '@temporalio/activity';
import type { ImapFlow } from 'imapflow';
import type { RoundTripResult } from '../workflows/messages';
import { stepLogger } from './logging';
import { requireServer } from './servers';
import type { MailHostDeps } from './mail-host';
import type { VerifyRoundTripInput } from '../workflows/activity-contract';

export interface RoundTripDeps extends MailHostDeps {
  roundTripTimeoutMs: number;
}

/** Carries the token of every message mailmend sends to the canary, so it finds exactly its own message. */
export const TOKEN_HEADER = 'X-Mailmend-Token';
const POLL_INTERVAL_MS = 250;

export function createRoundTripActivities(deps: RoundTripDeps) {
  return {
    /**
     * Sends a message with a unique token through the server's SMTP to the canary mailbox and finds it over IMAP:
     * the proof that mail flows end to end, not only that ports answer.
     */
    async verifyRoundTrip({ context }: VerifyRoundTripInput): Promise<RoundTripResult> {
      const log = stepLogger(deps.logger, context);
      const server = requireServer(deps.servers, context.serverId);
      const token = `mailmend-${randomUUID()}`;
      const imap = deps.mailHost.canaryImap(server);
      if (!server.canary || !imap) {
        return { ok: false, skipped: true, token, detail: 'no canary mailbox configured for this server' };
      }
      const started = Date.now();
      try {
        await deps.mailHost.serverSmtp(server).sendMail({
          from: `mailmend <mailmend@${server.canary.mailbox.split('@')[1] ?? 'localhost'}>`,
          to: server.canary.mailbox,
          subject: `mailmend round-trip check ${token}`,
          text: `Sent by mailmend while verifying incident ${context.incidentId}. It is deleted once found.`,
          headers: { [TOKEN_HEADER]: token },
        });
      } catch (error) {
        const detail = `SMTP submission to ${server.smtp.host}:${server.smtp.port} failed: ${(error as Error).message}`;
        log.warn({ token }, detail);
        return { ok: false, token, detail };
      }
      try {
        await imap.connect();
        const found = await waitForToken(imap, token, started + deps.roundTripTimeoutMs);
        if (!found) {
          const detail = `the message was accepted but did not arrive in ${server.canary.mailbox} within ${deps.roundTripTimeoutMs} ms`;
          log.warn({ token }, detail);
          return { ok: false, token, detail };
        }
        const roundTripMs = Date.now() - started;
        log.info({ token, roundTripMs }, 'round trip completed');
        return { ok: true, token, roundTripMs, detail: `delivered to ${server.canary.mailbox} in ${roundTripMs} ms` };
      } catch (error) {
        const detail = `IMAP check of ${server.canary.mailbox} failed: ${(error as Error).message}`;
        log.warn({ token }, detail);
        return { ok: false, token, detail };
      } finally {
        await imap.logout().catch(() => imap.close());
      }
    },
  };
}

async function waitForToken(imap: ImapFlow, token: string, deadline: number): Promise<boolean> {
  for (;;) {
    const lock = await imap.getMailboxLock('INBOX');
    try {
      const uids = await imap.search({ header: { [TOKEN_HEADER.toLowerCase()]: token } }, { uid: true });
      if (uids && uids.length > 0) {
        // The canary mailbox would otherwise fill up with one message per verification.
        await imap.messageDelete(uids, { uid: true });
        return true;
      }
    } finally {
      lock.release();
    }
    if (Date.now() >= deadline) return false;
    heartbeat('waiting for the round-trip message');
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
