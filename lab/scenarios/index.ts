import type { LabContext } from '../context';
import type { CommandResult } from '../processes';
import { deferredBacklog } from './backlog';
import { dovecotConfigBroken, postfixConfigBroken } from './config';
import { mailDiskFull, queueDiskFull } from './disk-full';
import { dovecotFrozen, postfixFrozen, sshdFrozen } from './frozen';
import { mailboxPermissions, passdbUnreadable, queuePermissions } from './permissions';
import { postfixPortTaken } from './port-taken';
import { dovecotStopped, postfixStopped } from './stopped';
import { tlsCertExpired } from './tls';
import type { ScenarioRun } from './types';

export { BROKEN_DAEMON_DIRECTORY, MISSPELT_DOVECOT_SETTING } from './config';
export { DEFERRED_BACKLOG_SIZE } from './backlog';

/** The outages `mailmend lab break` can cause, each the way it happens on a real host, with what it breaks. */
export const LAB_SCENARIO_SUMMARIES = {
  'postfix-stopped': 'Postfix is stopped: the SMTP port refuses connections',
  'dovecot-stopped': 'Dovecot is stopped: the IMAP port refuses connections',
  'postfix-config-broken': 'main.cf names a daemon_directory that does not exist; Postfix will not start',
  'deferred-backlog': 'the upstream relay is down; mail for other domains piles up in the deferred queue',
  'postfix-port-taken': 'another program holds the SMTP port; Postfix fails to bind and stays down',
  'dovecot-config-broken': 'dovecot.conf has a misspelt setting; Dovecot will not start',
  'queue-permissions': "the queue's incoming directory belongs to root; SMTP stalls at RCPT TO",
  'queue-disk-full': "the queue's file system is full; smtpd answers 452 Insufficient system storage",
  'mailbox-permissions': "the canary's Maildir belongs to root; delivery defers and SELECT fails",
  'passdb-unreadable': "Dovecot's passwd-file is readable by root only; logins fail",
  'postfix-frozen': 'every Postfix process is stopped (SIGSTOP); SMTP connects but never greets',
  'dovecot-frozen': 'every Dovecot process is stopped (SIGSTOP); IMAP connects but never greets',
  'sshd-frozen':
    "sshd's listener is stopped (SIGSTOP); the SSH port accepts connections but never sends its banner, so mailmend cannot reach the host",
  'mail-disk-full': 'the Maildirs file system is full; delivery defers with No space left on device',
  'tls-cert-expired': 'Postfix and Dovecot present a certificate that expired yesterday; STARTTLS clients refuse it',
} as const;

export type LabScenario = keyof typeof LAB_SCENARIO_SUMMARIES;
export const LAB_SCENARIOS = Object.keys(LAB_SCENARIO_SUMMARIES) as LabScenario[];

export function isLabScenario(name: string): name is LabScenario {
  return (LAB_SCENARIOS as readonly string[]).includes(name);
}

export interface LabBreakResult {
  scenario: LabScenario;
  /** What was done, in order, as a person would read it in a shell history. */
  steps: string[];
  /** Commands run and what they answered; a failing one here is the point of the scenario. */
  commands: CommandResult[];
}

const SCENARIOS: Record<LabScenario, ScenarioRun> = {
  'postfix-stopped': postfixStopped,
  'dovecot-stopped': dovecotStopped,
  'postfix-config-broken': postfixConfigBroken,
  'deferred-backlog': deferredBacklog,
  'postfix-port-taken': postfixPortTaken,
  'dovecot-config-broken': dovecotConfigBroken,
  'queue-permissions': queuePermissions,
  'queue-disk-full': queueDiskFull,
  'mailbox-permissions': mailboxPermissions,
  'passdb-unreadable': passdbUnreadable,
  'postfix-frozen': postfixFrozen,
  'dovecot-frozen': dovecotFrozen,
  'sshd-frozen': sshdFrozen,
  'mail-disk-full': mailDiskFull,
  'tls-cert-expired': tlsCertExpired,
};

export async function runScenario(context: LabContext, scenario: LabScenario): Promise<LabBreakResult> {
  const result: LabBreakResult = { scenario, steps: [], commands: [] };
  await SCENARIOS[scenario](context, (step, command) => {
    result.steps.push(step);
    if (command) result.commands.push(command);
  });
  return result;
}
