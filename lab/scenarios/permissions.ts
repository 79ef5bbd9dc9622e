import { chmod, chown, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  imapCanarySession,
  logLength,
  sendToCanary,
  smtpTranscript,
  waitForCanaryDeferral,
  waitForLogText,
} from './observe';
import { ScenarioDidNotTakeError, type ScenarioRun } from './types';

/** The queue directory cleanup(8) creates every new message in. */
export const UNWRITABLE_QUEUE_DIR = 'incoming';

/**
 * As after a restore of the spool from a backup taken as root without owners: `incoming` belongs to root, so cleanup
 * (running as postfix) cannot create queue files. Postfix does not reject mail for this: cleanup retries every 10
 * seconds, and smtpd waits for it, so the client's RCPT TO goes unanswered.
 */
export const queuePermissions: ScenarioRun = async (context, record) => {
  const { layout, settings } = context;
  const incoming = path.join(layout.postfixQueueDir, UNWRITABLE_QUEUE_DIR);
  await chown(incoming, 0, 0);
  record(`chown root:root ${incoming} (mode stays 0700)`);
  const from = await logLength(layout.postfixLog);
  const transcript = await smtpTranscript(settings.ports.smtp, [
    'EHLO sender.example',
    'MAIL FROM:<lab-sender@lab.test>',
    'RCPT TO:<canary@lab.test>',
  ]);
  record(`SMTP to 127.0.0.1:${settings.ports.smtp}: ${transcript.join(' / ')}`);
  if (!transcript.at(-1)?.endsWith('(no reply)') || !transcript[1]?.includes(': 250')) {
    throw new ScenarioDidNotTakeError('queue-permissions', `SMTP went on: ${transcript.join(' / ')}`);
  }
  const line = await waitForLogText(
    layout.postfixLog,
    from,
    /mail_queue_enter: create file incoming\/\S+: Permission denied/,
  );
  record(`postfix.log: ${line}`);
};

/** As after `cp -r` or an rsync as root without `-o`: the canary's Maildir belongs to root, mode 0700 as before. */
export const mailboxPermissions: ScenarioRun = async (context, record) => {
  const { layout } = context;
  await chown(layout.canaryMaildir, 0, 0);
  record(`chown root:root ${layout.canaryMaildir} (mode stays 0700)`);
  const imap = await imapCanarySession(context);
  record(`IMAP: LOGIN ${imap.login ?? '(no reply)'}; SELECT INBOX ${imap.select ?? '(not reached)'}`);
  if (!imap.select?.startsWith('a2 NO')) {
    throw new ScenarioDidNotTakeError('mailbox-permissions', `SELECT INBOX answered "${imap.select ?? imap.login}"`);
  }
  await sendToCanary(context, 'mailmend lab: mailbox-permissions');
  const reason = await waitForCanaryDeferral(context, /Permission denied/);
  record(`a message for the canary is deferred: ${reason}`);
};

/**
 * As when an admin "secures" the password file with an editor or `install -m 600` as root: the file is replaced by a
 * new one only root can read. Dovecot's auth process (user dovecot) notices the changed file on the next login and
 * cannot open it.
 */
export const passdbUnreadable: ScenarioRun = async (context, record) => {
  const { layout } = context;
  const staged = `${layout.dovecotUsersFile}.new`;
  await writeFile(staged, await readFile(layout.dovecotUsersFile), { mode: 0o600 });
  await chown(staged, 0, 0);
  await chmod(staged, 0o600);
  await rename(staged, layout.dovecotUsersFile);
  record(`replace ${layout.dovecotUsersFile} with the same lines, owned by root:root, mode 0600`);
  const from = await logLength(layout.dovecotLog);
  // Dovecot looks at the file's mtime at most once a second, so a login in the same second may still be served from
  // what it read before.
  let login: string | undefined;
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    login = (await imapCanarySession(context)).login;
    if (!login?.startsWith('a1 OK')) break;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
  }
  record(`IMAP: LOGIN ${login ?? '(no reply)'}`);
  if (login?.startsWith('a1 OK')) {
    throw new ScenarioDidNotTakeError('passdb-unreadable', 'the canary still logs in');
  }
  const line = await waitForLogText(
    layout.dovecotLog,
    from,
    `open(${layout.dovecotUsersFile}) failed: Permission denied`,
  );
  record(`dovecot.log: ${line}`);
};
