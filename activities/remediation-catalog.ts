import path from 'node:path';
import type { ServerConfig } from '../config/schema';
import type { Risk } from '../workflows/messages';

type Argv = string[];

interface CatalogActionBase {
  id: string;
  /** What the approver reads: the action's effect, and for an action that is not idempotent, what a second run does. */
  description: string;
  risk: Risk;
  rollback: string;
  /** Read-only commands whose output records what the action is about to change. */
  snapshot(server: ServerConfig): Argv[];
  /** Run in order; the first failing command stops the action. `stamp` names backups uniquely per run. */
  commands(server: ServerConfig, stamp: string): Argv[];
}

/** An action whose effect a read-only check can see: once the effect is in place, running it again repeats nothing. */
interface IdempotentAction extends CatalogActionBase {
  idempotent: true;
  /** Read-only commands that all succeed only when the action's effect is already in place. */
  alreadyApplied(server: ServerConfig): Argv[];
}

/** An action that changes the host again on every run (a restart, a flush): a retry would repeat it. */
interface RepeatingAction extends CatalogActionBase {
  idempotent: false;
}

/**
 * One of the only things mailmend ever runs to change a mail host. Every argv is fixed: the server's config may choose
 * paths, but nothing from an alert or a signal is ever part of a command.
 */
export type CatalogAction = IdempotentAction | RepeatingAction;

function postfix(server: ServerConfig, ...args: string[]): Argv {
  return ['postfix', '-c', server.host.postfixConfigDir, ...args];
}

function dovecotConfigCheck(server: ServerConfig): Argv {
  return ['doveconf', '-c', server.host.dovecotConfig, '-n'];
}

function liveFile(server: ServerConfig, name: 'main.cf' | 'master.cf'): string {
  return path.posix.join(server.host.postfixConfigDir, name);
}

function knownGoodPostfixDir(server: ServerConfig): string {
  if (!server.host.knownGoodDir) throw new Error(`server ${server.id} has no host.knownGoodDir to restore from`);
  return path.posix.join(server.host.knownGoodDir, 'postfix');
}

function knownGoodFile(server: ServerConfig, name: 'main.cf' | 'master.cf'): string {
  return path.posix.join(knownGoodPostfixDir(server), name);
}

const postfixStatus = (server: ServerConfig): Argv => postfix(server, 'status');
// doveadm answers only while the Dovecot master runs, so this read-only call tells whether it is up.
const dovecotStatus = (server: ServerConfig): Argv => ['doveadm', '-c', server.host.dovecotConfig, 'process', 'status'];

const CONFIG_FILES = ['main.cf', 'master.cf'] as const;

const actions = [
  {
    id: 'start-postfix',
    description: 'Start Postfix',
    risk: 'low',
    rollback: 'Stop Postfix again with `postfix stop`',
    idempotent: true,
    alreadyApplied: (server) => [postfixStatus(server)],
    snapshot: (server) => [postfixStatus(server)],
    commands: (server) => [postfix(server, 'check'), postfix(server, 'start')],
  },
  {
    id: 'restart-postfix',
    description:
      'Restart Postfix (`postfix check`, then stop and start). Not idempotent: every run restarts Postfix again',
    risk: 'medium',
    rollback: 'None needed: the queue is kept and senders retry mail in flight',
    idempotent: false,
    snapshot: (server) => [postfixStatus(server)],
    commands: (server) => [postfix(server, 'check'), postfix(server, 'stop'), postfix(server, 'start')],
  },
  {
    id: 'restore-postfix-config',
    description:
      'Restore the known-good Postfix configuration (after `postfix check` passes on it), then start Postfix',
    risk: 'medium',
    rollback: 'The replaced files are kept beside the originals as <file>.mailmend-<time>; copy them back to undo',
    idempotent: true,
    alreadyApplied: (server) => [
      ...CONFIG_FILES.map((name) => ['cmp', '-s', knownGoodFile(server, name), liveFile(server, name)]),
      postfixStatus(server),
    ],
    snapshot: (server) => [
      ...CONFIG_FILES.map((name) => ['sha256sum', liveFile(server, name)]),
      ['diff', '-u', knownGoodFile(server, 'main.cf'), liveFile(server, 'main.cf')],
    ],
    commands: (server, stamp) => [
      ['postfix', '-c', knownGoodPostfixDir(server), 'check'],
      ...CONFIG_FILES.map((name) => [
        'cp',
        '-p',
        liveFile(server, name),
        `${liveFile(server, name)}.mailmend-${stamp}`,
      ]),
      ...CONFIG_FILES.map((name) => ['cp', '-p', knownGoodFile(server, name), liveFile(server, name)]),
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
    commands: (server) => [dovecotConfigCheck(server), ['dovecot', '-c', server.host.dovecotConfig]],
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
    commands: (server) => [dovecotConfigCheck(server), ['doveadm', '-c', server.host.dovecotConfig, 'reload']],
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
    commands: (server) => [['postqueue', '-c', server.host.postfixConfigDir, '-f']],
  },
] as const satisfies readonly CatalogAction[];

/** The id of an action in the catalog: a misspelt id in the diagnosis rules does not compile. */
export type CatalogActionId = (typeof actions)[number]['id'];

export const REMEDIATION_CATALOG: ReadonlyMap<string, CatalogAction> = new Map(
  actions.map((entry) => [entry.id, entry]),
);

/**
 * Looks up an action by an id that arrived as data, e.g. from the workflow: undefined when it is not in the catalog.
 *
 * @example findCatalogAction('start-postfix')?.commands(server, stamp)
 */
export function findCatalogAction(actionId: string): CatalogAction | undefined {
  return REMEDIATION_CATALOG.get(actionId);
}
