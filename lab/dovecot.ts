import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, writeFile } from 'node:fs/promises';
import { LAB_CANARY, type LabLayout, type LabSettings } from './layout';
import type { MailUser } from './postfix';
import type { LabTools } from './prerequisites';
import { runDaemonStartStep } from './daemon-start';
import { livePid } from './processes';

/**
 * IMAP only, on loopback. STARTTLS is offered with the lab CA's certificate; plaintext logins stay allowed, as the
 * lab has no network to protect and its tests log in both ways.
 */
function renderDovecotConfig(layout: LabLayout, settings: LabSettings, mailUser: MailUser): string {
  return `# Dovecot for the mailmend lab: IMAP on loopback, serving the Maildirs Postfix delivers to.
base_dir = ${layout.dovecotBaseDir}
state_dir = ${layout.dovecotStateDir}
log_path = ${layout.dovecotLog}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <${layout.tlsServerCert}
ssl_key = <${layout.tlsServerKey}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = ${mailUser.uid}
last_valid_uid = ${mailUser.uid}
mail_location = maildir:~

passdb {
  driver = passwd-file
  args = ${layout.dovecotUsersFile}
}
userdb {
  driver = static
  args = uid=${mailUser.uid} gid=${mailUser.gid} home=${layout.mailDir}/%d/%n
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${settings.ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
}
`;
}

/** Dovecot's `{SSHA512}` scheme: base64 of sha512(password + salt) followed by the salt. */
function ssha512(password: string, salt: Buffer = randomBytes(8)): string {
  const digest = createHash('sha512').update(password).update(salt).digest();
  return `{SSHA512}${Buffer.concat([digest, salt]).toString('base64')}`;
}

export async function writeDovecotConfig(
  layout: LabLayout,
  settings: LabSettings,
  mailUser: MailUser,
  canaryPassword: string,
  dovecotGid: number,
): Promise<void> {
  await writeFile(layout.dovecotConfig, renderDovecotConfig(layout, settings, mailUser));
  await writeFile(layout.dovecotUsersFile, `${LAB_CANARY}:${ssha512(canaryPassword)}::::::\n`);
  // The auth process runs as the dovecot user and reads the passwd-file itself.
  await chown(layout.dovecotUsersFile, 0, dovecotGid);
  await chmod(layout.dovecotUsersFile, 0o640);
}

export function dovecotMasterPid(layout: LabLayout): Promise<number | undefined> {
  return livePid(layout.dovecotMasterPidFile, 'dovecot');
}

function dovecotStartCommand(tools: LabTools, layout: LabLayout): string[] {
  return [tools.dovecot, '-c', layout.dovecotConfig];
}

export function dovecotStopCommand(tools: LabTools, layout: LabLayout): string[] {
  return [tools.doveadm, '-c', layout.dovecotConfig, 'stop'];
}

export async function startDovecot(tools: LabTools, layout: LabLayout): Promise<void> {
  await runDaemonStartStep('dovecot', dovecotStartCommand(tools, layout), layout.dovecotLog);
}
