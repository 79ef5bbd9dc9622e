import path from 'node:path';
import type { ServerConfig } from '../config/schema';
import {
  DOVECOT_BASE_DIR,
  DOVECOT_MASTER_PID,
  POSTFIX_MASTER_PID,
  POSTFIX_QUEUE_DIR,
  POSTFIX_QUEUE_SUBDIRS,
  dovecotConfigCheck,
  dovecotStatus,
  knownGoodDovecotConfig,
  knownGoodPostfixDir,
  knownGoodPostfixFile,
  mailOwner,
  masterPidOf,
  noStoppedProcess,
  postfix,
  postfixLiveFile,
  postfixStatus,
  processGroupListing,
  resumeProcessGroup,
} from './remediation-host-commands';
import {
  requireFact,
  stepArgv,
  type Argv,
  type CatalogAction,
  type CatalogActionDefinition,
} from './remediation-steps';

export type { CatalogAction } from './remediation-steps';

const CONFIG_FILES = ['main.cf', 'master.cf'] as const;

/** Files under `root` whose owner or group is not host.mailOwner, as `user:group mode path`. */
function otherOwnersListing(server: ServerConfig, root: string): Argv {
  const { user, group } = mailOwner(server);
  return ['find', root, '(', '!', '-user', user, '-o', '!', '-group', group, ')', '-printf', '%u:%g %m %p\\n'];
}

// find exits non-zero when an `-exec … +` command fails, so running `false` on any match fails the check, read-only.
function otherOwnersFail(server: ServerConfig, root: string): Argv {
  const { user, group } = mailOwner(server);
  return ['find', root, '(', '!', '-user', user, '-o', '!', '-group', group, ')', '-exec', 'false', '{}', '+'];
}

const actions = [
  {
    id: 'start-postfix',
    description: 'Start Postfix',
    risk: 'low',
    rollback: 'Stop Postfix again with `postfix stop`',
    idempotent: true,
    alreadyApplied: (server) => [postfixStatus(server)],
    snapshot: (server) => [postfixStatus(server)],
    steps: (server) => [postfix(server, 'check'), postfix(server, 'start')],
  },
  {
    id: 'restart-postfix',
    description:
      'Restart Postfix (`postfix check`, then stop and start). Not idempotent: every run restarts Postfix again',
    risk: 'medium',
    rollback: 'None needed: the queue is kept and senders retry mail in flight',
    idempotent: false,
    snapshot: (server) => [postfixStatus(server)],
    steps: (server) => [postfix(server, 'check'), postfix(server, 'stop'), postfix(server, 'start')],
  },
  {
    id: 'restore-postfix-config',
    description:
      'Restore the known-good Postfix configuration (after `postfix check` passes on it), then start Postfix',
    risk: 'medium',
    rollback: 'The replaced files are kept beside the originals as <file>.mailmend-<time>; copy them back to undo',
    idempotent: true,
    alreadyApplied: (server) => [
      ...CONFIG_FILES.map((name) => ['cmp', '-s', knownGoodPostfixFile(server, name), postfixLiveFile(server, name)]),
      postfixStatus(server),
    ],
    snapshot: (server) => [
      ...CONFIG_FILES.map((name) => ['sha256sum', postfixLiveFile(server, name)]),
      ['diff', '-u', knownGoodPostfixFile(server, 'main.cf'), postfixLiveFile(server, 'main.cf')],
    ],
    steps: (server, stamp) => [
      ['postfix', '-c', knownGoodPostfixDir(server), 'check'],
      ...CONFIG_FILES.map((name) => [
        'cp',
        '-p',
        postfixLiveFile(server, name),
        `${postfixLiveFile(server, name)}.mailmend-${stamp}`,
      ]),
      ...CONFIG_FILES.map((name) => ['cp', '-p', knownGoodPostfixFile(server, name), postfixLiveFile(server, name)]),
      postfix(server, 'check'),
      postfix(server, 'start'),
    ],
  },
  {
    id: 'start-dovecot',
    description: 'Start Dovecot',
    risk: 'low',
    rollback: 'Stop Dovecot again with `doveadm stop`',
    idempotent: true,
    alreadyApplied: (server) => [dovecotStatus(server)],
    snapshot: (server) => [dovecotConfigCheck(server)],
    steps: (server) => [dovecotConfigCheck(server), ['dovecot', '-c', server.host.dovecotConfig]],
  },
  {
    id: 'reload-dovecot',
    description:
      'Reload Dovecot (`doveconf -n`, then `doveadm reload`): the master re-reads its configuration and restarts its ' +
      'login and mail processes. Not idempotent: every run reloads again, which is harmless',
    risk: 'medium',
    rollback: 'None needed: the configuration is unchanged and IMAP clients reconnect',
    idempotent: false,
    snapshot: (server) => [dovecotStatus(server)],
    steps: (server) => [dovecotConfigCheck(server), ['doveadm', '-c', server.host.dovecotConfig, 'reload']],
  },
  {
    id: 'flush-postfix-queue',
    description:
      'Retry delivery of the deferred queue now (`postqueue -f`), once the relay answers again. Not idempotent: ' +
      'every run retries delivery of what is still queued, which is harmless',
    risk: 'low',
    rollback: 'None needed: messages that still fail stay deferred',
    idempotent: false,
    snapshot: (server) => [['postqueue', '-c', server.host.postfixConfigDir, '-j']],
    steps: (server) => [['postqueue', '-c', server.host.postfixConfigDir, '-f']],
  },
  {
    id: 'restore-dovecot-config',
    description:
      'Restore the known-good dovecot.conf (after `doveconf` parses it), then start Dovecot when it is down or ' +
      'reload it when it is up',
    risk: 'medium',
    rollback: 'The replaced file is kept beside the original as dovecot.conf.mailmend-<time>; copy it back to undo',
    idempotent: true,
    alreadyApplied: (server) => [
      ['cmp', '-s', knownGoodDovecotConfig(server), server.host.dovecotConfig],
      dovecotStatus(server),
    ],
    snapshot: (server) => [
      ['sha256sum', server.host.dovecotConfig],
      ['diff', '-u', knownGoodDovecotConfig(server), server.host.dovecotConfig],
    ],
    steps: (server, stamp) => [
      dovecotConfigCheck(server, knownGoodDovecotConfig(server)),
      ['cp', '-p', server.host.dovecotConfig, `${server.host.dovecotConfig}.mailmend-${stamp}`],
      ['cp', '-p', knownGoodDovecotConfig(server), server.host.dovecotConfig],
      dovecotConfigCheck(server),
      { argv: dovecotStatus(server), probe: true },
      { argv: ['doveadm', '-c', server.host.dovecotConfig, 'reload'], when: 'probe-passed' },
      { argv: ['dovecot', '-c', server.host.dovecotConfig], when: 'probe-failed' },
    ],
  },
  {
    id: 'postfix-set-permissions',
    description:
      'Put back the owners and modes of the Postfix queue and programs (`postfix set-permissions`), then start ' +
      'Postfix when it is down or reload it when it is up. Not idempotent: every run sets them again, which is ' +
      'harmless; no read-only check proves them all right, since `postfix check` exits 0 on some ownership ' +
      'warnings and itself creates missing queue directories',
    risk: 'medium',
    rollback: 'None needed: set-permissions restores the owners and modes the Postfix package installed',
    idempotent: false,
    facts: [POSTFIX_QUEUE_DIR],
    snapshot: (server, facts) => [
      postfix(server, 'check'),
      ['ls', '-ld', ...POSTFIX_QUEUE_SUBDIRS.map((dir) => path.posix.join(requireFact(facts, 'postfixQueueDir'), dir))],
    ],
    steps: (server) => [
      postfix(server, 'set-permissions'),
      postfix(server, 'check'),
      { argv: postfixStatus(server), probe: true },
      { argv: postfix(server, 'reload'), when: 'probe-passed' },
      { argv: postfix(server, 'start'), when: 'probe-failed' },
    ],
  },
  {
    id: 'fix-mailbox-ownership',
    description:
      'Give the mailboxes back to their owner: `chown -R -h <host.mailOwner>` on each of host.mailDirs, and nothing ' +
      'else, then retry the mail deferred meanwhile (`postqueue -f`). Never without host.mailOwner',
    risk: 'medium',
    rollback:
      'The snapshot lists every file that had another owner (owner:group, mode, path); chown those back to undo',
    idempotent: true,
    alreadyApplied: (server) => server.host.mailDirs.map((root) => otherOwnersFail(server, root)),
    snapshot: (server) => server.host.mailDirs.map((root) => otherOwnersListing(server, root)),
    // -h: a symlink inside a mailbox is changed itself, never what it points to.
    steps: (server) => [
      ...server.host.mailDirs.map((root) => ['chown', '-R', '-h', mailOwner(server).owner, root]),
      // Mail deferred while the mailbox was unwritable would otherwise wait for Postfix's next retry, minutes away.
      ['postqueue', '-c', server.host.postfixConfigDir, '-f'],
    ],
  },
  {
    id: 'resume-postfix',
    description:
      "Let a frozen Postfix run again: SIGCONT to its master's process group, the master pid read from " +
      '<queue_directory>/pid/master.pid',
    risk: 'low',
    rollback: 'None needed: SIGCONT only lets stopped processes carry on',
    idempotent: true,
    facts: [POSTFIX_QUEUE_DIR, POSTFIX_MASTER_PID],
    alreadyApplied: (_server, facts) => [noStoppedProcess(masterPidOf(facts, 'postfix'))],
    snapshot: (_server, facts) => [processGroupListing(masterPidOf(facts, 'postfix'))],
    steps: (_server, _stamp, facts) => [resumeProcessGroup(masterPidOf(facts, 'postfix'))],
  },
  {
    id: 'resume-dovecot',
    description:
      "Let a frozen Dovecot run again: SIGCONT to its master's process group, the master pid read from " +
      '<base_dir>/master.pid',
    risk: 'low',
    rollback: 'None needed: SIGCONT only lets stopped processes carry on',
    idempotent: true,
    facts: [DOVECOT_BASE_DIR, DOVECOT_MASTER_PID],
    alreadyApplied: (_server, facts) => [noStoppedProcess(masterPidOf(facts, 'dovecot'))],
    snapshot: (_server, facts) => [processGroupListing(masterPidOf(facts, 'dovecot'))],
    steps: (_server, _stamp, facts) => [resumeProcessGroup(masterPidOf(facts, 'dovecot'))],
  },
] as const satisfies readonly CatalogActionDefinition[];

/** The id of an action in the catalog: a misspelt id in the diagnosis rules does not compile. */
export type CatalogActionId = (typeof actions)[number]['id'];

function withCommands(definition: CatalogActionDefinition): CatalogAction {
  return {
    ...definition,
    commands: (server, stamp) => definition.steps(server, stamp, {}).map(stepArgv),
  };
}

export const REMEDIATION_CATALOG: ReadonlyMap<string, CatalogAction> = new Map(
  actions.map((entry) => [entry.id, withCommands(entry)]),
);

/**
 * Looks up an action by an id that arrived as data, e.g. from the workflow: undefined when it is not in the catalog.
 *
 * @example findCatalogAction('start-postfix')?.commands(server, stamp)
 */
export function findCatalogAction(actionId: string): CatalogAction | undefined {
  return REMEDIATION_CATALOG.get(actionId);
}
