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

async function runAll(session: SshSession, commands: string[][], onProgress: () => void): Promise<CommandRecord[]> {
  const records: CommandRecord[] = [];
  for (const argv of commands) {
    onProgress();
    const run = await session.run(argv);
    records.push(record(argv, run.exitCode, run.output));
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
 * Runs catalog actions over one SSH connection per action: checks whether the effect is already in place (so a retry
 * repeats nothing), snapshots what the action changes, then runs its commands in order, stopping at the first failure.
 */
export function createSshRemediationExecutor(
  mailHost: MailHostAccess,
  now: () => Date = () => new Date(),
): RemediationExecutor {
  return {
    async runAction(server: ServerConfig, action: CatalogAction, onProgress: () => void): Promise<ActionOutcome> {
      return mailHost.withSsh(server, async (session) => {
        const checks = action.alreadyApplied(server);
        if (checks.length > 0) {
          const checked = await runAll(session, checks, onProgress);
          if (checked.every((check) => check.exitCode === 0)) {
            return {
              exitCode: 0,
              output: 'already in effect; nothing was run',
              alreadyApplied: true,
              commands: checked,
            };
          }
        }
        const snapshot = await runAll(session, action.snapshot(server), onProgress);
        const commands: CommandRecord[] = [];
        for (const argv of action.commands(server, backupStamp(now()))) {
          onProgress();
          const run = await session.run(argv);
          commands.push(record(argv, run.exitCode, run.output));
          if (run.exitCode !== 0) break;
        }
        const last = commands.at(-1);
        return {
          exitCode: last?.exitCode ?? 0,
          output: commands.map((command) => `$ ${command.command}\n${command.output}`).join('\n'),
          alreadyApplied: false,
          snapshot,
          commands,
        };
      });
    },
  };
}
