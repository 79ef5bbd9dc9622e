import { labRelay, type LabScenario } from '../../lab';
import type { E2eExpectation, HangExpectation, StagedExpectation } from '../support/lab-e2e';

/**
 * What each lab scenario must end in when mailmend handles it end to end. Each e2e file runs one list, and
 * scenario-coverage.test.ts pins that together they cover every scenario `mailmend lab break` knows, so a new scenario
 * cannot ship without an e2e run that also checks no incident ended Failed.
 */

/** How issue 10's production code phrases what a hang left it: a command cut off, a stopped master, a silent sshd. */
export const TIMED_OUT_COMMAND = /`[^`]+` did not answer within \d+ s/;
export const STOPPED_MASTER = /master process \(pid \d+\) is stopped \(ps state T/;
export const SSH_HANDSHAKE_HANG =
  /SSH to 127\.0\.0\.1:\d+ accepted the connection but did not finish its handshake within \d+ s/;

/**
 * A frozen Postfix or Dovecot accepts and never answers. The assessment ends by its hard deadline (30 s, the default
 * of policies.assessmentDeadline) at the latest, and the diagnosis's host commands are each cut off within 10 s, so a
 * few of them meeting the frozen daemon add tens of seconds. 90 s leaves room for a loaded CI machine, while the
 * failure issue 10 reports, a probe activity hanging for its one-minute timeout three times over, cannot fit in it.
 */
export const FROZEN_DAEMON_BOUND_MS = 90_000;

/** The acceptance of issue 10: an alert for a host whose SSH port accepts but never answers is escalated in < 2 min. */
export const SSH_HANG_BOUND_MS = 120_000;

const frozenDaemon: HangExpectation = {
  boundMs: FROZEN_DAEMON_BOUND_MS,
  names: new RegExp(`${STOPPED_MASTER.source}|${TIMED_OUT_COMMAND.source}`),
};

/** Outages one catalog action fixes: the cause a competent operator would name, and the fix. */
export const RESTORED_SCENARIOS: Extract<E2eExpectation, { outcome: 'closed' }>[] = [
  {
    scenario: 'dovecot-config-broken',
    outcome: 'closed',
    actionId: 'restore-dovecot-config',
    rootCause: /dovecot\.conf.*(line \d+|Unknown setting)|(line \d+|Unknown setting).*dovecot\.conf/i,
  },
  {
    scenario: 'queue-permissions',
    outcome: 'closed',
    actionId: 'postfix-set-permissions',
    rootCause:
      /queue.*(permission|denied|owner|queue file write error)|(permission|denied|queue file write error).*queue/i,
  },
  {
    scenario: 'mailbox-permissions',
    outcome: 'closed',
    actionId: 'fix-mailbox-ownership',
    rootCause: /(mailbox|maildir).*(owner|permission|denied)|(owner|permission|denied).*(mailbox|maildir)/i,
  },
  {
    scenario: 'postfix-frozen',
    outcome: 'closed',
    actionId: 'resume-postfix',
    rootCause: /Postfix.*(frozen|stopped \(T\))/i,
    hang: frozenDaemon,
  },
  {
    scenario: 'dovecot-frozen',
    outcome: 'closed',
    actionId: 'resume-dovecot',
    rootCause: /Dovecot.*(frozen|stopped \(T\))/i,
    hang: frozenDaemon,
  },
];

/** Outages no catalog action fixes: mailmend must name the cause and hand over, asking nobody to approve. */
export const ESCALATED_SCENARIOS: Extract<E2eExpectation, { outcome: 'escalated' }>[] = [
  {
    scenario: 'postfix-port-taken',
    outcome: 'escalated',
    rootCause: /^Postfix cannot start: \S+ port \d+ is already in use by python3 \(pid \d+\)/,
  },
  {
    scenario: 'queue-disk-full',
    outcome: 'escalated',
    rootCause: /^The filesystem of the Postfix queue \(\S+postfix-queue, .*\) has less free space than Postfix needs/,
  },
  {
    scenario: 'passdb-unreadable',
    outcome: 'escalated',
    rootCause: /(passwd-file|passdb|password file).*(Permission denied|permission|unreadable)/i,
  },
  {
    scenario: 'mail-disk-full',
    outcome: 'escalated',
    rootCause: /^The filesystem under \S+\/mail \(\S+\/mail\) is (full|out of inodes)/,
  },
  { scenario: 'tls-cert-expired', outcome: 'escalated', rootCause: /certificate.*expired|expired.*certificate/i },
  // Mail works, but mailmend cannot look at the host: no diagnosis names a cause, the escalation says why it stopped.
  {
    scenario: 'sshd-frozen',
    outcome: 'escalated',
    reason: SSH_HANDSHAKE_HANG,
    hang: { boundMs: SSH_HANG_BOUND_MS, names: SSH_HANDSHAKE_HANG },
  },
];

/** Outages fixed end to end with the evidence, the commands on the timeline and the report checked as well. */
export const RESTORED_WITH_EVIDENCE: StagedExpectation[] = [
  {
    scenario: 'postfix-stopped',
    rootCause: /Postfix is not running/,
    evidence: /postfix status: `postfix -c \S+ status` exit [1-9]/,
    actionId: 'start-postfix',
  },
  {
    scenario: 'dovecot-stopped',
    rootCause: /Dovecot is not running/,
    evidence: /doveconf -n: `doveconf -c \S+ -n` exit 0/,
    actionId: 'start-dovecot',
  },
  {
    scenario: 'postfix-config-broken',
    rootCause:
      /Postfix refuses to start: its configuration changed since the known-good copy .*main\.cf.* `postfix check` fails/,
    evidence:
      /main\.cf differs from the known-good copy.*backup \S*main\.cf\.bak-\d{8}T\d{6}.*\+daemon_directory = \/usr\/libexec\/postfix/,
    actionId: 'restore-postfix-config',
  },
  {
    scenario: 'deferred-backlog',
    rootCause: /deferred queue \(5 messages.*because the relay \S+ cannot be reached/,
    evidence: /delay reason: .*(Connection refused|connect to)/,
    actionId: 'flush-postfix-queue',
    beforeApproval: (stateDir) => labRelay(stateDir, 'start'),
  },
];

/** Which e2e file runs which list: the coverage pin reads each file to see that it does. */
export const E2E_SCENARIO_RUNS: { file: string; list: string; scenarios: LabScenario[] }[] = [
  { file: 'e2e.test.ts', list: 'RESTORED_WITH_EVIDENCE', scenarios: RESTORED_WITH_EVIDENCE.map((e) => e.scenario) },
  { file: 'e2e-restored.test.ts', list: 'RESTORED_SCENARIOS', scenarios: RESTORED_SCENARIOS.map((e) => e.scenario) },
  { file: 'e2e-escalated.test.ts', list: 'ESCALATED_SCENARIOS', scenarios: ESCALATED_SCENARIOS.map((e) => e.scenario) },
];
