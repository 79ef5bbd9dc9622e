import type { ServerConfig } from '../config/schema';
import type { Risk } from '../workflows/messages';

/**
 * The only commands mailmend ever runs on a mail host. Each argv is fixed: the server config may choose paths, but
 * nothing from an alert or a signal is ever part of a command.
 */
export interface CatalogAction {
  id: string;
  description: string;
  risk: Risk;
  rollback: string;
  commands(server: ServerConfig): string[][];
}

function action(entry: CatalogAction): [string, CatalogAction] {
  return [entry.id, entry];
}

export const REMEDIATION_CATALOG: ReadonlyMap<string, CatalogAction> = new Map([
  action({
    id: 'start-postfix',
    description: 'Start Postfix',
    risk: 'low',
    rollback: 'Stop Postfix again with `postfix stop`',
    commands: () => [['postfix', 'start']],
  }),
  action({
    id: 'restart-postfix',
    description: 'Restart Postfix (stop, then start)',
    risk: 'medium',
    rollback: 'None needed: a restart keeps the queue; mail in flight is retried by senders',
    commands: () => [
      ['postfix', 'stop'],
      ['postfix', 'start'],
    ],
  }),
  action({
    id: 'start-dovecot',
    description: 'Start Dovecot',
    risk: 'low',
    rollback: 'Stop Dovecot again with `doveadm stop`',
    commands: () => [['dovecot']],
  }),
  action({
    id: 'restart-dovecot',
    description: 'Restart Dovecot (reload its configuration and processes)',
    risk: 'medium',
    rollback: 'None needed: IMAP clients reconnect',
    commands: () => [['doveadm', 'reload']],
  }),
  action({
    id: 'flush-postfix-queue',
    description: 'Retry delivery of the deferred queue now (`postqueue -f`)',
    risk: 'low',
    rollback: 'None needed: messages that still fail stay deferred',
    commands: () => [['postqueue', '-f']],
  }),
]);

export function findCatalogAction(actionId: string): CatalogAction | undefined {
  return REMEDIATION_CATALOG.get(actionId);
}
