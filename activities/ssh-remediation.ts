import type { ServerConfig } from '../config/schema';
import type { CommandRecord } from '../workflows/messages';
import type { MailHostAccess } from './mail-host';
import type { ActionOutcome, RemediationExecutor } from './remediation';
import type { CatalogAction } from './remediation-catalog';
import { shellQuote, type SshSession } from './ssh';

const MAX_RECORDED_OUTPUT = 1_500;

function record(argv: string[], exitCode: number, output: string): CommandRecord {
  return { command: shellQuote(argv), exitCode, output: output.trim().slice(-MAX_RECORDED_OUTPUT) };
}

/** Runs `commands` in order and records each; with `stopAtFailure`, the first one that fails ends the run. */
async function runAll(
  session: SshSession,
  commands: string[][],
  onProgress: () => void,
  stopAtFailure = false,
): Promise<CommandRecord[]> {
  const records: CommandRecord[] = [];
  for (const argv of commands) {
    onProgress();
    const run = await session.run(argv);
    records.push(record(argv, run.exitCode, run.output));
    if (stopAtFailure && run.exitCode !== 0) break;
  }
  return records;
}

/** A compact timestamp for backup names, from the activity's clock, e.g. `20260101T120000Z`. */
export function backupStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Runs catalog actions over one SSH connection per action. For an idempotent action it first runs the read-only
 * check, and when the effect is already in place it runs nothing else. Otherwise it snapshots what the action changes,
 * then runs its commands in order, stopping at the first failure. An action that is not idempotent has no check: it
 * runs in full every time, which is why `runRemediation` never lets a retry reach it.
 */
export function createSshRemediationExecutor(
  mailHost: MailHostAccess,
  now: () => Date = () => new Date(),
): RemediationExecutor {
  return {
    async runAction(server: ServerConfig, action: CatalogAction, onProgress: () => void): Promise<ActionOutcome> {
      return mailHost.withSsh(server, async (session) => {
        if (action.idempotent) {
          const checked = await runAll(session, action.alreadyApplied(server), onProgress);
          if (checked.length > 0 && checked.every((check) => check.exitCode === 0)) {
            return {
              exitCode: 0,
              output: 'already in effect; nothing was run',
              alreadyApplied: true,
              commands: checked,
            };
          }
        }
        const snapshot = await runAll(session, action.snapshot(server), onProgress);
        const commands = await runAll(session, action.commands(server, backupStamp(now())), onProgress, true);
        return {
          exitCode: commands.at(-1)?.exitCode ?? 0,
          output: commands.map((command) => `$ ${command.command}\n${command.output}`).join('\n'),
          alreadyApplied: false,
          snapshot,
          commands,
        };
      });
    },
  };
}
