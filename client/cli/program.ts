import { Command, CommanderError } from 'commander';
import { mailmendVersion } from '../../platform/package-version';
import { connectClient, temporalSettingsFromEnv } from '../../platform/temporal/connection';
import type { CliDeps } from './deps';
import { registerIncidentCommands } from './incident-commands';

export type { CliDeps, TemporalSession } from './deps';
export { IncidentUnresponsiveError } from './incident-commands';

/** A group of commands that registers itself on the root program, such as `lab` or `drill`. */
export type CommandGroup = (program: Command, deps: CliDeps) => void;

/**
 * The `mailmend` program: the incident commands, plus the groups the caller adds, so parts outside the client (the lab,
 * the drill) plug in without the client importing them.
 *
 * @example await buildProgram(deps).parseAsync(['incidents', 'show', 'mx1'], { from: 'user' });
 */
export function buildProgram(deps: CliDeps, groups: readonly CommandGroup[] = []): Command {
  const program = new Command('mailmend')
    .description('Runs the mail-server outage procedure as a durable Temporal workflow')
    .version(mailmendVersion(), '-V, --version', 'print the mailmend version')
    .exitOverride()
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr });
  registerIncidentCommands(program, deps);
  for (const register of groups) register(program, deps);
  return program;
}

/**
 * Runs the program and returns the exit code: 0, or 1 after printing one line to stderr.
 *
 * @example process.exitCode = await runCli(process.argv.slice(2), processDeps(process.env));
 */
export async function runCli(argv: string[], deps: CliDeps, groups: readonly CommandGroup[] = []): Promise<number> {
  try {
    await buildProgram(deps, groups).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    // Commander has already printed its own message (usage errors) or the help text.
    if (error instanceof CommanderError) return error.exitCode;
    deps.stderr(`mailmend: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** The real process: Temporal from the environment (`TEMPORAL_ADDRESS`, profiles), output to the terminal. */
export function processDeps(env: NodeJS.ProcessEnv): CliDeps {
  return {
    connect: () => connectClient(temporalSettingsFromEnv(env), { connectTimeoutMs: 5_000 }),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}
