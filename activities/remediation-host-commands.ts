import path from 'node:path';
import type { ServerConfig } from '../config/schema';
import {
  isPlainAbsolutePath,
  isProcessGroupPid,
  requireFact,
  type Argv,
  type HostFactReader,
  type HostFacts,
} from './remediation-steps';

/** The argv the catalog's actions are made of, each from the server's config or from validated host facts. */

export function postfix(server: ServerConfig, ...args: string[]): Argv {
  return ['postfix', '-c', server.host.postfixConfigDir, ...args];
}

export function dovecotConfigCheck(server: ServerConfig, configFile = server.host.dovecotConfig): Argv {
  return ['doveconf', '-c', configFile, '-n'];
}

export const postfixStatus = (server: ServerConfig): Argv => postfix(server, 'status');
// doveadm answers only while the Dovecot master runs, so this read-only call tells whether it is up.
export const dovecotStatus = (server: ServerConfig): Argv => [
  'doveadm',
  '-c',
  server.host.dovecotConfig,
  'process',
  'status',
];

export function postfixLiveFile(server: ServerConfig, name: 'main.cf' | 'master.cf'): string {
  return path.posix.join(server.host.postfixConfigDir, name);
}

function knownGoodDir(server: ServerConfig): string {
  if (!server.host.knownGoodDir) throw new Error(`server ${server.id} has no host.knownGoodDir to restore from`);
  return server.host.knownGoodDir;
}

export function knownGoodPostfixDir(server: ServerConfig): string {
  return path.posix.join(knownGoodDir(server), 'postfix');
}

export function knownGoodPostfixFile(server: ServerConfig, name: 'main.cf' | 'master.cf'): string {
  return path.posix.join(knownGoodPostfixDir(server), name);
}

export function knownGoodDovecotConfig(server: ServerConfig): string {
  return path.posix.join(knownGoodDir(server), 'dovecot', 'dovecot.conf');
}

/** `user:group` from `host.mailOwner`; without it mailmend never guesses who should own the mailboxes. */
export function mailOwner(server: ServerConfig): { owner: string; user: string; group: string } {
  const owner = server.host.mailOwner;
  if (!owner) {
    throw new Error(
      `server ${server.id} has no host.mailOwner, so mailmend does not know who should own the mailboxes ` +
        'and will not change their ownership',
    );
  }
  const [user = '', group = ''] = owner.split(':');
  return { owner, user, group };
}

/** The Postfix queue's directories that `postfix set-permissions` owns, as listed in Postfix's postfix-files. */
export const POSTFIX_QUEUE_SUBDIRS = [
  'active',
  'bounce',
  'corrupt',
  'defer',
  'deferred',
  'flush',
  'hold',
  'incoming',
  'maildrop',
  'pid',
  'private',
  'public',
  'saved',
  'trace',
] as const;

export const POSTFIX_QUEUE_DIR: HostFactReader = {
  name: 'postfixQueueDir',
  read: (server) => ['postconf', '-c', server.host.postfixConfigDir, '-h', 'queue_directory'],
  expected: 'an absolute path without ".."',
  isValid: isPlainAbsolutePath,
};

export const POSTFIX_MASTER_PID: HostFactReader = {
  name: 'postfixMasterPid',
  read: (_server, facts) => ['cat', path.posix.join(requireFact(facts, 'postfixQueueDir'), 'pid', 'master.pid')],
  expected: 'a process id greater than 1',
  isValid: isProcessGroupPid,
};

export const DOVECOT_BASE_DIR: HostFactReader = {
  name: 'dovecotBaseDir',
  read: (server) => ['doveconf', '-c', server.host.dovecotConfig, '-h', 'base_dir'],
  expected: 'an absolute path without ".."',
  isValid: isPlainAbsolutePath,
};

export const DOVECOT_MASTER_PID: HostFactReader = {
  name: 'dovecotMasterPid',
  read: (_server, facts) => ['cat', path.posix.join(requireFact(facts, 'dovecotBaseDir'), 'master.pid')],
  expected: 'a process id greater than 1',
  isValid: isProcessGroupPid,
};

/**
 * The daemon's processes: the master calls setsid, so its pid is also its session and process group id, and every
 * child it forks shares them.
 */
export function processGroupListing(masterPid: string): Argv {
  return ['ps', '-o', 'pid,pgid,stat,wchan:32,args', '--sid', masterPid];
}

// procps kill, not the login shell's builtin: dash's kill takes neither `--` nor a negative process group id.
export function resumeProcessGroup(masterPid: string): Argv {
  return ['/bin/kill', '-CONT', '--', `-${masterPid}`];
}

/** Passes (exit 1: nothing matched) only when no process of the group is stopped (state T). */
export function noStoppedProcess(masterPid: string) {
  return { argv: ['pgrep', '-r', 'T', '-g', masterPid], passesOnExitCode: 1 };
}

export function masterPidOf(facts: HostFacts, daemon: 'postfix' | 'dovecot'): string {
  return requireFact(facts, daemon === 'postfix' ? 'postfixMasterPid' : 'dovecotMasterPid');
}
