import { appendFile, copyFile, readFile, writeFile } from 'node:fs/promises';
import { postfixCommand } from '../postfix';
import { runCommand } from '../processes';
import { stopDovecot, stopPostfix } from './stopped';
import { backupSuffix, ScenarioDidNotTakeError, type ScenarioRun } from './types';

/**
 * A daemon directory that does not exist on Debian, as in a main.cf copied from a Red Hat host. It is read by the
 * `postfix` command after it opens maillog_file, so the fatal error lands in postfix.log; a non-numeric value for a
 * numeric parameter would stop Postfix too, but its fatal error is logged before that, to syslog only.
 */
export const BROKEN_DAEMON_DIRECTORY = '/usr/libexec/postfix';

/**
 * A misspelt setting, as when an admin tunes the per-user connection limit from memory: the real name ends in
 * "connections". Dovecot refuses to start on any setting it does not know.
 */
export const MISSPELT_DOVECOT_SETTING = 'mail_max_userip_connection';

export const postfixConfigBroken: ScenarioRun = async (context, record) => {
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
    throw new ScenarioDidNotTakeError('postfix-config-broken', `Postfix started despite ${BROKEN_DAEMON_DIRECTORY}`);
  }
};

/**
 * Dovecot prints its configuration error on the terminal of whoever starts it (systemd would keep it in the journal);
 * dovecot.log is opened only after the configuration parses, so nothing reaches it.
 */
export const dovecotConfigBroken: ScenarioRun = async (context, record) => {
  const { tools, layout } = context;
  const backup = `${layout.dovecotConfig}.${backupSuffix(new Date())}`;
  await copyFile(layout.dovecotConfig, backup);
  record(`back up dovecot.conf to ${backup}`);
  // Stopped before the edit, as `systemctl restart` would: `doveadm stop` reads the configuration too.
  await stopDovecot(context, record);
  await appendFile(
    layout.dovecotConfig,
    `\n# allow more parallel IMAP sessions per user\n${MISSPELT_DOVECOT_SETTING} = 20\n`,
  );
  record(`edit dovecot.conf: add "${MISSPELT_DOVECOT_SETTING} = 20"`);
  const start = await runCommand([tools.dovecot, '-c', layout.dovecotConfig]);
  record('try to start Dovecot, which fails', start);
  const fatal = new RegExp(
    `Fatal: Error in configuration file \\S+ line \\d+: Unknown setting: ${MISSPELT_DOVECOT_SETTING}`,
  );
  if (start.exitCode === 0 || !fatal.test(start.output)) {
    throw new ScenarioDidNotTakeError(
      'dovecot-config-broken',
      `dovecot exited with ${start.exitCode} and printed "${start.output.slice(0, 300)}"`,
    );
  }
  record(`dovecot says: ${fatal.exec(start.output)?.[0] ?? ''}`);
};
