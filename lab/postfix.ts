import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LAB_CANARY, LAB_DOMAIN, type LabLayout, type LabSettings } from './layout';
import type { LabTools } from './prerequisites';
import { runDaemonStartStep } from './daemon-start';
import { livePid, runOrThrow } from './processes';
import { writeLabCertificates } from './tls';

export interface MailUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The lab's main.cf. `daemon_directory` is spelled out so that the broken-config scenario changes exactly one line,
 * as an administrator's edit would.
 */
function renderPostfixMainCf(layout: LabLayout, settings: LabSettings, mailUser: MailUser, daemonDir: string) {
  return `# Postfix for the mailmend lab: loopback only, mail for ${LAB_DOMAIN} into Maildirs, everything else to the relay.
compatibility_level = 3.6
daemon_directory = ${daemonDir}
queue_directory = ${layout.postfixQueueDir}
data_directory = ${layout.postfixDataDir}
maillog_file = ${layout.postfixLog}
maillog_file_prefixes = ${layout.logDir}

myhostname = mx.${LAB_DOMAIN}
mydomain = ${LAB_DOMAIN}
myorigin = $mydomain
mydestination =
local_transport = error:local delivery is disabled in the lab
alias_maps =
alias_database =
local_recipient_maps =
append_dot_mydomain = no
biff = no

inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# STARTTLS offered, never required, so plaintext clients of the lab keep working.
smtpd_tls_security_level = may
smtpd_tls_cert_file = ${layout.tlsServerCert}
smtpd_tls_key_file = ${layout.tlsServerKey}
smtpd_tls_loglevel = 1
smtp_tls_security_level = none

relayhost = [127.0.0.1]:${settings.ports.relay}
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtp_connect_timeout = 5s

virtual_mailbox_domains = ${LAB_DOMAIN}
virtual_mailbox_base = ${layout.mailDir}
virtual_mailbox_maps = texthash:${layout.virtualMailboxMap}
virtual_minimum_uid = ${mailUser.uid}
virtual_uid_maps = static:${mailUser.uid}
virtual_gid_maps = static:${mailUser.gid}
`;
}

/** A master.cf with only the services the lab uses, none chrooted, and smtpd bound to the lab's own port. */
function renderPostfixMasterCf(settings: LabSettings): string {
  return `# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:${settings.ports.smtp} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

export async function writePostfixConfig(
  tools: LabTools,
  layout: LabLayout,
  settings: LabSettings,
  mailUser: MailUser,
): Promise<void> {
  const daemonDir = (await runOrThrow([tools.postconf, '-d', '-h', 'daemon_directory'])).output;
  // main.cf names the certificate, so it is made with it; Dovecot presents the same one.
  await writeLabCertificates(layout);
  await writeFile(layout.postfixMainCf, renderPostfixMainCf(layout, settings, mailUser, daemonDir));
  await writeFile(layout.postfixMasterCf, renderPostfixMasterCf(settings));
  // texthash: maps are read as they are, so no postmap run is needed after writing this.
  await writeFile(layout.virtualMailboxMap, `${LAB_CANARY} ${LAB_DOMAIN}/canary/\n`);
}

const ALTERNATE_DIRS = 'alternate_config_directories';

/**
 * Debian's "No configuration" choice installs Postfix without /etc/postfix/main.cf, and postconf cannot edit a missing
 * file; an empty one means all defaults, which is what that choice stands for.
 */
async function ensureDefaultMainCf(postconf: string): Promise<void> {
  const configDir = (await runOrThrow([postconf, '-d', '-h', 'config_directory'])).output.trim();
  const mainCf = path.join(configDir, 'main.cf');
  if (!existsSync(mainCf)) await writeFile(mainCf, '', { mode: 0o644 });
}

function splitDirList(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

/**
 * Postfix refuses `-c <dir>` unless the default main.cf lists the directory, so the lab adds its own directories there
 * and leaves every existing entry alone.
 */
export async function addAlternateConfigDirs(postconf: string, dirs: string[]): Promise<void> {
  await ensureDefaultMainCf(postconf);
  const current = splitDirList((await runOrThrow([postconf, '-h', ALTERNATE_DIRS])).output);
  const missing = dirs.filter((dir) => !current.includes(dir));
  if (missing.length === 0) return;
  await runOrThrow([postconf, '-e', `${ALTERNATE_DIRS} = ${[...current, ...missing].join(', ')}`]);
}

export async function removeAlternateConfigDirs(postconf: string, dirs: string[]): Promise<void> {
  const current = splitDirList((await runOrThrow([postconf, '-h', ALTERNATE_DIRS])).output);
  const kept = current.filter((dir) => !dirs.includes(dir));
  if (kept.length === current.length) return;
  await runOrThrow(
    kept.length > 0 ? [postconf, '-e', `${ALTERNATE_DIRS} = ${kept.join(', ')}`] : [postconf, '-X', ALTERNATE_DIRS],
  );
}

export function postfixMasterPid(layout: LabLayout): Promise<number | undefined> {
  return livePid(layout.postfixMasterPidFile, 'master');
}

export function postfixCommand(tools: LabTools, layout: LabLayout, ...args: string[]): string[] {
  return [tools.postfix, '-c', layout.postfixConfigDir, ...args];
}

/** `postfix check`, then `postfix start`; a failure carries the command output and the end of postfix.log. */
export async function startPostfix(tools: LabTools, layout: LabLayout): Promise<void> {
  for (const step of ['check', 'start']) {
    await runDaemonStartStep('postfix', postfixCommand(tools, layout, step), layout.postfixLog);
  }
}

interface QueuedMessage {
  queueName: string;
  queueId: string;
  recipients: { address: string; delayReason?: string }[];
}

/** The whole queue as `postqueue -j` reports it; needs Postfix running, as its showq service answers. */
export async function readPostfixQueue(tools: LabTools, layout: LabLayout): Promise<QueuedMessage[]> {
  const result = await runOrThrow([tools.postqueue, '-c', layout.postfixConfigDir, '-j'], 'reading the Postfix queue');
  return result.output
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => {
      const entry = JSON.parse(line) as {
        queue_name: string;
        queue_id: string;
        recipients?: { address: string; delay_reason?: string }[];
      };
      return {
        queueName: entry.queue_name,
        queueId: entry.queue_id,
        recipients: (entry.recipients ?? []).map((r) => ({ address: r.address, delayReason: r.delay_reason })),
      };
    });
}
