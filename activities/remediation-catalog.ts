import path from 'node:path';
import type { ServerConfig } from '../config/schema';
import type { Risk } from '../workflows/messages';

type Argv = string[];

/**
 * The only commands mailmend ever runs to change a mail host. Every argv is fixed: the server's config may choose
 * paths, but nothing from an alert or a signal is ever part of a command.
 */
export interface CatalogAction {
  id: string;
  description: string;
  risk: Risk;
  rollback: string;
  /** Read-only commands that all succeed when the action's effect is already in place, so a retry repeats nothing. */
  alreadyApplied(server: ServerConfig): Argv[];
  /** Read-only commands whose output records what the action is about to change. */
  snapshot(server: ServerConfig): Argv[];
  /** Run in order; the first failing command stops the action. `stamp` names backups uniquely per run. */
  commands(server: ServerConfig, stamp: string): Argv[];
}

function postfix(server: ServerConfig, ...args: string[]): Argv {
  return ['postfix', '-c', server.host.postfixConfigDir, ...args];
}

function liveFile(server: ServerConfig, name: 'main.cf' | 'master.cf'): string {
  return path.posix.join(server.host.postfixConfigDir, name);
}

function knownGoodFile(server: ServerConfig, name: 'main.cf' | 'master.cf'): string {
  if (!server.host.knownGoodDir) throw new Error(`server ${server.id} has no host.knownGoodDir to restore from`);
  return path.posix.join(server.host.knownGoodDir, 'postfix', name);
}

const postfixStatus = (server: ServerConfig): Argv => postfix(server, 'status');
// doveadm answers only while the Dovecot master runs, so this read-only call tells whether it is up.
const dovecotStatus = (server: ServerConfig): Argv => ['doveadm', '-c', server.host.dovecotConfig, 'process', 'status'];
const queueSnapshot = (server: ServerConfig): Argv => ['postqueue', '-c', server.host.postfixConfigDir, '-j'];

const CONFIG_FILES = ['main.cf', 'master.cf'] as const;

const actions: CatalogAction[] = [
  {
    id: 'start-postfix',
    description: 'Start Postfix',
    risk: 'low',
    rollback: 'Stop Postfix again with `postfix stop`',
    alreadyApplied: (server) => [postfixStatus(server)],
    snapshot: (server) => [postfixStatus(server)],
    commands: (server) => [postfix(server, 'check'), postfix(server, 'start')],
  },
  {
    id: 'restart-postfix',
    description: 'Restart Postfix (stop, then start)',
    risk: 'medium',
    rollback: 'None needed: the queue is kept and senders retry mail in flight',
    alreadyApplied: () => [],
    snapshot: (server) => [postfixStatus(server)],
    commands: (server) => [postfix(server, 'check'), postfix(server, 'stop'), postfix(server, 'start')],
  },
  {
    id: 'restore-postfix-config',
    description:
      'Restore the known-good Postfix configuration (after `postfix check` passes on it), then start Postfix',
    risk: 'medium',
    rollback: 'The replaced files are kept beside the originals as <file>.mailmend-<time>; copy them back to undo',
    alreadyApplied: (server) => [
      ...CONFIG_FILES.map((name) => ['cmp', '-s', knownGoodFile(server, name), liveFile(server, name)]),
      postfixStatus(server),
    ],
    snapshot: (server) => [
      ...CONFIG_FILES.map((name) => ['sha256sum', liveFile(server, name)]),
      ['diff', '-u', knownGoodFile(server, 'main.cf'), liveFile(server, 'main.cf')],
    ],
    commands: (server, stamp) => [
      ['postfix', '-c', path.posix.join(server.host.knownGoodDir ?? '', 'postfix'), 'check'],
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
    alreadyApplied: (server) => [dovecotStatus(server)],
    snapshot: (server) => [['doveconf', '-c', server.host.dovecotConfig, '-n']],
    commands: (server) => [
      ['doveconf', '-c', server.host.dovecotConfig, '-n'],
      ['dovecot', '-c', server.host.dovecotConfig],
    ],
  },
  {
    id: 'restart-dovecot',
    description: 'Reload Dovecot (re-read its configuration and restart its processes)',
    risk: 'medium',
    rollback: 'None needed: IMAP clients reconnect',
    alreadyApplied: () => [],
    snapshot: (server) => [dovecotStatus(server)],
    commands: (server) => [
      ['doveconf', '-c', server.host.dovecotConfig, '-n'],
      ['doveadm', '-c', server.host.dovecotConfig, 'reload'],
    ],
  },
  {
    id: 'flush-postfix-queue',
    description: 'Retry delivery of the deferred queue now (`postqueue -f`), once the relay answers again',
    risk: 'low',
    rollback: 'None needed: messages that still fail stay deferred',
    alreadyApplied: () => [],
    snapshot: (server) => [queueSnapshot(server)],
    commands: (server) => [['postqueue', '-c', server.host.postfixConfigDir, '-f']],
  },
];

export const REMEDIATION_CATALOG: ReadonlyMap<string, CatalogAction> = new Map(
  actions.map((entry) => [entry.id, entry]),
);

export function findCatalogAction(actionId: string): CatalogAction | undefined {
  return REMEDIATION_CATALOG.get(actionId);
}
