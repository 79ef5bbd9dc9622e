import { chmod, chown, copyFile, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { LabStateError } from './errors';
import { LAB_MAIL_USER, type LabLayout } from './layout';
import type { MailUser } from './postfix';
import { runCommand, runOrThrow } from './processes';

/** A mail user for Postfix's virtual(8) delivery and Dovecot, created once per machine. */
export async function ensureMailUser(): Promise<MailUser> {
  const existing = await lookupUser(LAB_MAIL_USER);
  if (existing) return existing;
  await runOrThrow(
    [
      'useradd',
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      LAB_MAIL_USER,
    ],
    `creating the lab's mail user ${LAB_MAIL_USER}`,
  );
  const created = await lookupUser(LAB_MAIL_USER);
  if (!created) throw new LabStateError(`useradd reported success but ${LAB_MAIL_USER} does not exist`);
  return created;
}

async function lookupUser(name: string): Promise<MailUser | undefined> {
  const result = await runCommand(['getent', 'passwd', name]);
  if (result.exitCode !== 0) return undefined;
  const [, , uid, gid] = result.output.split(':');
  return { name, uid: Number(uid), gid: Number(gid) };
}

export async function lookupGroupId(name: string): Promise<number> {
  const result = await runOrThrow(['getent', 'group', name], `looking up the ${name} group`);
  return Number(result.output.split(':')[2]);
}

/** Daemons that drop to their own users must be able to walk down to the state dir. */
export async function assertReachable(
  stateDir: string,
  whoRunsAs = 'Postfix and Dovecot run as their own users',
): Promise<void> {
  for (let dir = path.dirname(stateDir); ; dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new LabStateError(
        `${dir} is not searchable by other users (mode ${(mode & 0o777).toString(8)}), but ${whoRunsAs} ` +
          `and must reach ${stateDir}: \`chmod o+x ${dir}\` or choose another --state-dir`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

/** The state dir's layout with the owners and modes Postfix, Dovecot and sshd insist on. */
export async function prepareDirectories(layout: LabLayout, mailUser: MailUser): Promise<void> {
  await mkdir(layout.stateDir, { recursive: true });
  await chmod(layout.stateDir, 0o755);
  await assertReachable(layout.stateDir);
  for (const dir of [layout.logDir, layout.postfixConfigDir, layout.postfixQueueDir, layout.dovecotDir]) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  }
  const privateDirs = [layout.secretsDir, layout.sshDir, layout.knownGoodPostfixDir, layout.knownGoodDovecotDir];
  for (const dir of [...privateDirs, layout.knownGoodTlsDir]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const postfixUser = await lookupUser('postfix');
  if (!postfixUser) throw new LabStateError('the postfix user does not exist: is the postfix package fully installed?');
  await mkdir(layout.postfixDataDir, { recursive: true, mode: 0o700 });
  await chown(layout.postfixDataDir, postfixUser.uid, postfixUser.gid);
  // Dovecot finds an empty INBOX before the first delivery, instead of a missing one.
  for (const dir of [layout.mailDir, path.dirname(layout.canaryMaildir), layout.canaryMaildir]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, mailUser.uid, mailUser.gid);
  }
  for (const sub of ['cur', 'new', 'tmp']) {
    const dir = path.join(layout.canaryMaildir, sub);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, mailUser.uid, mailUser.gid);
  }
}

type LabDaemon = 'postfix' | 'dovecot';

/** The files `labHeal` restores from, the diagnosis compares against, and the daemons that read each one. */
function knownGoodPairs(layout: LabLayout): { live: string; knownGood: string; services: LabDaemon[] }[] {
  const inDir = (dir: string, live: string) => path.join(dir, path.basename(live));
  return [
    {
      live: layout.postfixMainCf,
      knownGood: inDir(layout.knownGoodPostfixDir, layout.postfixMainCf),
      services: ['postfix'],
    },
    {
      live: layout.postfixMasterCf,
      knownGood: inDir(layout.knownGoodPostfixDir, layout.postfixMasterCf),
      services: ['postfix'],
    },
    {
      live: layout.dovecotConfig,
      knownGood: inDir(layout.knownGoodDovecotDir, layout.dovecotConfig),
      services: ['dovecot'],
    },
    {
      live: layout.dovecotUsersFile,
      knownGood: inDir(layout.knownGoodDovecotDir, layout.dovecotUsersFile),
      services: ['dovecot'],
    },
    // Both daemons present the one server certificate, so a replaced one is put back in both.
    {
      live: layout.tlsServerCert,
      knownGood: inDir(layout.knownGoodTlsDir, layout.tlsServerCert),
      services: ['postfix', 'dovecot'],
    },
    {
      live: layout.tlsServerKey,
      knownGood: inDir(layout.knownGoodTlsDir, layout.tlsServerKey),
      services: ['postfix', 'dovecot'],
    },
  ];
}

export async function writeKnownGoodCopy(layout: LabLayout): Promise<void> {
  for (const { live, knownGood } of knownGoodPairs(layout)) await copyFile(live, knownGood);
}

/** Copies back every file that differs from its known-good copy and removes admins' `main.cf.bak-*` backups. */
export async function restoreKnownGood(layout: LabLayout, actions: string[]): Promise<Set<LabDaemon>> {
  const changed = new Set<LabDaemon>();
  for (const { live, knownGood, services } of knownGoodPairs(layout)) {
    const [liveText, goodText] = await Promise.all([readFile(live, 'utf8').catch(() => ''), readFile(knownGood)]);
    if (liveText === goodText.toString()) continue;
    await copyFile(knownGood, live);
    for (const service of services) changed.add(service);
    actions.push(`restore ${live} from ${knownGood}`);
  }
  const backupPattern = new RegExp(`^${path.basename(layout.postfixMainCf)}\\.bak-`);
  for (const entry of await readdir(layout.postfixConfigDir)) {
    if (!backupPattern.test(entry)) continue;
    await rm(path.join(layout.postfixConfigDir, entry));
    actions.push(`remove the backup ${entry}`);
  }
  return changed;
}
