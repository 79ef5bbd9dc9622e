import { chmod, chown, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LabContext } from './context';
import { stopForeignListener } from './foreign-listener';
import { postfixCommand } from './postfix';
import { processGroupStates, resumeStoppedGroup, runCommand, runOrThrow, stopPids } from './processes';
import { MAIL_FILLER_DIR, QUEUE_FILLER, mailStagingDir, queueStagingDir } from './scenarios/disk-full';
import { scenarioStateDir } from './scenarios/types';
import { LAB_SERVICES, servicePid } from './services';
import { ensureMailUser, lookupGroupId } from './state-dir';
import { isMountPoint, moveOffTmpfs } from './tmpfs';

/** The Postfix queue directories `postfix set-permissions` gives back to the postfix user. */
const POSTFIX_OWNED_QUEUE_DIRS = ['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming'];

/**
 * Undoes what scenarios change outside the configuration files, before `labHeal` restores those and starts what is
 * down: stopped process groups, a foreign listener, file systems mounted over the queue or the Maildirs. Each step
 * checks the lab's state, not which scenario ran, so a partial break is undone too.
 */
export async function undoRuntimeFaults(context: LabContext, actions: string[]): Promise<void> {
  // Each lab daemon leads its own process group; none of this needs SSH, so a frozen sshd is resumed like the rest.
  for (const service of LAB_SERVICES) {
    const pid = await servicePid(context.layout, service);
    if (pid === undefined || !resumeStoppedGroup(pid)) continue;
    actions.push(`resume the stopped ${service} processes (kill -CONT -- -${pid})`);
  }
  const foreign = await stopForeignListener(scenarioStateDir(context.layout));
  if (foreign !== undefined) actions.push(`stop the foreign listener on the SMTP port (pid ${foreign})`);
  if (await isMountPoint(context.layout.postfixQueueDir)) {
    await stopPostfixForcibly(context);
    const notices = await queueFiles(context.layout.postfixQueueDir);
    await moveOffTmpfs(context.layout.postfixQueueDir, queueStagingDir(context), [QUEUE_FILLER, ...notices]);
    actions.push(
      `move the Postfix queue off its tmpfs, without the ${QUEUE_FILLER} file and ${notices.length} queue files`,
    );
  }
  if (await moveOffTmpfs(context.layout.mailDir, mailStagingDir(context), [MAIL_FILLER_DIR])) {
    actions.push(`move the Maildirs off their tmpfs, without ${MAIL_FILLER_DIR}`);
  }
}

/**
 * The queue files on the tmpfs: with every client refused (452), only Postfix's own notices to the postmaster. They
 * are dropped: queue files are named after their inode, and a copy's new inode makes `postfix start` rename it, which
 * with Postfix down fails on the lab's maillog_file.
 */
async function queueFiles(queueDir: string): Promise<string[]> {
  const found = await runOrThrow(
    ['find', queueDir, '-path', path.join(queueDir, 'pid'), '-prune', '-o', '-type', 'f', '-printf', '%P\\n'],
    'listing the queue files on the tmpfs',
  );
  return found.output.split('\n').filter((file) => file !== '' && file !== QUEUE_FILLER);
}

/** `postfix stop`, and when that fails (a broken main.cf), SIGTERM to the master and its children. */
async function stopPostfixForcibly({ tools, layout }: LabContext): Promise<void> {
  const pid = await servicePid(layout, 'postfix');
  if (pid === undefined) return;
  const stopped = await runCommand(postfixCommand(tools, layout, 'stop'));
  if (stopped.exitCode !== 0) await stopPids(processGroupStates(pid).map((process) => process.pid));
  await stopPids([pid]);
}

/**
 * Gives the queue, the Maildirs and the passwd-file back the owners and modes `labUp` gave them, and removes admins'
 * `dovecot.conf.bak-*` backups. Runs after the configuration is restored, since `postfix set-permissions` reads it.
 */
export async function restoreOwnership(context: LabContext, actions: string[]): Promise<void> {
  const { tools, layout } = context;
  const postfixUid = Number((await runOrThrow(['id', '-u', 'postfix'], 'looking up the postfix user')).output);
  for (const dir of POSTFIX_OWNED_QUEUE_DIRS) {
    if ((await stat(path.join(layout.postfixQueueDir, dir))).uid === postfixUid) continue;
    await runOrThrow(postfixCommand(tools, layout, 'set-permissions'), 'setting Postfix permissions');
    actions.push(`postfix set-permissions (${dir} was not owned by postfix)`);
    if ((await servicePid(layout, 'postfix')) !== undefined) {
      // qmgr gave up on the unreadable queue and master throttles it; a reload starts it afresh.
      await runOrThrow(postfixCommand(tools, layout, 'reload'), 'reloading Postfix');
    }
    break;
  }
  await restoreMailOwnership(context, actions);
  await restorePasswdFile(context, actions);
  const backupPattern = new RegExp(`^${path.basename(layout.dovecotConfig)}\\.bak-`);
  for (const entry of await readdir(path.dirname(layout.dovecotConfig))) {
    if (!backupPattern.test(entry)) continue;
    await rm(path.join(path.dirname(layout.dovecotConfig), entry));
    actions.push(`remove the backup ${entry}`);
  }
}

async function restoreMailOwnership({ layout }: LabContext, actions: string[]): Promise<void> {
  const mailUser = await ensureMailUser();
  const foreign = await runOrThrow(
    ['find', layout.mailDir, '(', '!', '-uid', String(mailUser.uid), '-o', '!', '-gid', String(mailUser.gid), ')'],
    'looking for mail files of other owners',
  );
  if (foreign.output === '') return;
  await runOrThrow(['chown', '-R', '-h', `${mailUser.uid}:${mailUser.gid}`, layout.mailDir], 'chowning the Maildirs');
  actions.push(
    `chown -R ${mailUser.name} ${layout.mailDir} (${foreign.output.split('\n').length} entries had other owners)`,
  );
}

/** Dovecot's auth process runs as the dovecot user and reads the passwd-file through its group (see lab/dovecot.ts). */
async function restorePasswdFile({ layout }: LabContext, actions: string[]): Promise<void> {
  const dovecotGid = await lookupGroupId('dovecot');
  const { uid, gid, mode } = await stat(layout.dovecotUsersFile);
  if (uid === 0 && gid === dovecotGid && (mode & 0o777) === 0o640) return;
  await chown(layout.dovecotUsersFile, 0, dovecotGid);
  await chmod(layout.dovecotUsersFile, 0o640);
  actions.push(`chown root:dovecot and chmod 0640 ${layout.dovecotUsersFile}`);
}
