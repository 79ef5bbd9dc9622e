import { copyFile, readFile, writeFile } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import type { LabContext } from './context';
import { dovecotStopCommand } from './dovecot';
import { postfixCommand, readPostfixQueue } from './postfix';
import { LOOPBACK, runCommand, runOrThrow, waitUntil, type CommandResult } from './processes';
import { stopRelay } from './relay';
import { serviceState, waitServiceDown } from './services';

/** The outages `mailmend lab break` can cause, each the way it happens on a real host. */
export const LAB_SCENARIOS = [
  'postfix-stopped',
  'dovecot-stopped',
  'postfix-config-broken',
  'deferred-backlog',
] as const;
export type LabScenario = (typeof LAB_SCENARIOS)[number];

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

/**
 * A daemon directory that does not exist on Debian, as in a main.cf copied from a Red Hat host. It is read by the
 * `postfix` command after it opens maillog_file, so the fatal error lands in postfix.log; a non-numeric value for a
 * numeric parameter would stop Postfix too, but its fatal error is logged before that, to syslog only.
 */
export const BROKEN_DAEMON_DIRECTORY = '/usr/libexec/postfix';

/** How many messages `deferred-backlog` leaves in the deferred queue. */
export const DEFERRED_BACKLOG_SIZE = 5;

/** Admin editors' backup suffix: `main.cf.bak-20260101T120000`. */
function backupSuffix(now: Date): string {
  return `bak-${now.toISOString().slice(0, 19).replace(/[-:]/g, '')}`;
}

type ScenarioRun = (context: LabContext, record: (step: string, result?: CommandResult) => void) => Promise<void>;

async function stopPostfix(context: LabContext, record: (step: string, result?: CommandResult) => void) {
  const { tools, layout, settings } = context;
  if ((await serviceState(layout, settings, 'postfix')).pid === undefined) return;
  record('stop Postfix', await runOrThrow(postfixCommand(tools, layout, 'stop'), 'stopping Postfix'));
  await waitServiceDown(layout, settings, 'postfix');
}

const SCENARIOS: Record<LabScenario, ScenarioRun> = {
  'postfix-stopped': async (context, record) => {
    await stopPostfix(context, record);
  },

  'dovecot-stopped': async ({ tools, layout, settings }, record) => {
    record('stop Dovecot', await runOrThrow(dovecotStopCommand(tools, layout), 'stopping Dovecot'));
    await waitServiceDown(layout, settings, 'dovecot');
  },

  'postfix-config-broken': async (context, record) => {
    const { tools, layout } = context;
    const backup = `${layout.postfixMainCf}.${backupSuffix(new Date())}`;
    await copyFile(layout.postfixMainCf, backup);
    record(`back up main.cf to ${backup}`);
    // Stopped before the edit: with the broken file in place `postfix stop` fails too.
    await stopPostfix(context, record);
    const original = await readFile(layout.postfixMainCf, 'utf8');
    const broken = original.replace(/^daemon_directory = .*$/m, `daemon_directory = ${BROKEN_DAEMON_DIRECTORY}`);
    if (broken === original) throw new Error(`${layout.postfixMainCf} has no daemon_directory line to break`);
    await writeFile(layout.postfixMainCf, broken);
    record(`edit main.cf: daemon_directory = ${BROKEN_DAEMON_DIRECTORY}`);
    const start = await runCommand(postfixCommand(tools, layout, 'start'));
    record('try to start Postfix, which fails', start);
    if (start.exitCode === 0) {
      throw new Error(
        `Postfix started despite daemon_directory = ${BROKEN_DAEMON_DIRECTORY}: the scenario did not take`,
      );
    }
  },

  'deferred-backlog': async ({ tools, layout, settings }, record) => {
    await stopRelay(layout);
    await waitServiceDown(layout, settings, 'relay');
    record(`stop the relay sink on 127.0.0.1:${settings.ports.relay}: the upstream relay is unreachable`);
    const transport = nodemailer.createTransport({ host: LOOPBACK, port: settings.ports.smtp, ignoreTLS: true });
    const queueIds: string[] = [];
    try {
      for (let index = 1; index <= DEFERRED_BACKLOG_SIZE; index += 1) {
        const sent = await transport.sendMail({
          from: 'lab-sender@lab.test',
          to: 'someone@remote.test',
          subject: `mailmend lab backlog ${index}/${DEFERRED_BACKLOG_SIZE}`,
          text: 'Held in the deferred queue while the upstream relay is unreachable.',
        });
        const queueId = /queued as ([0-9A-Za-z]+)/.exec(sent.response)?.[1];
        if (queueId) queueIds.push(queueId);
      }
    } finally {
      transport.close();
    }
    record(`submit ${DEFERRED_BACKLOG_SIZE} messages for someone@remote.test to 127.0.0.1:${settings.ports.smtp}`);
    await waitUntil(`the ${DEFERRED_BACKLOG_SIZE} messages to reach the deferred queue`, async () => {
      const deferred = new Set(
        (await readPostfixQueue(tools, layout)).filter((m) => m.queueName === 'deferred').map((m) => m.queueId),
      );
      return queueIds.length === DEFERRED_BACKLOG_SIZE && queueIds.every((id) => deferred.has(id));
    });
    record(`wait until ${queueIds.join(', ')} sit in the deferred queue (postqueue -j)`);
  },
};

export async function runScenario(context: LabContext, scenario: LabScenario): Promise<LabBreakResult> {
  const result: LabBreakResult = { scenario, steps: [], commands: [] };
  await SCENARIOS[scenario](context, (step, command) => {
    result.steps.push(step);
    if (command) result.commands.push(command);
  });
  return result;
}
