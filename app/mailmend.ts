#!/usr/bin/env node
import { processDeps, runCli, type CliDeps, type CommandGroup } from '../client/cli/program';
import { registerClusterCommands } from '../cluster/cli';
import { registerDrillCommand } from '../drill/cli';
import { registerLabCommands } from '../lab/cli';
import { registerInitCommand } from './init-command';

/** Beside the incident commands, the `mailmend` binary carries init, the lab, the drill and the cluster. */
const MAILMEND_COMMAND_GROUPS: readonly CommandGroup[] = [
  registerInitCommand,
  registerLabCommands,
  registerDrillCommand,
  registerClusterCommands,
];

/**
 * Runs the whole `mailmend` binary in-process and returns its exit code.
 *
 * @example process.exitCode = await runMailmend(['lab', 'status'], processDeps(process.env));
 */
export function runMailmend(argv: string[], deps: CliDeps): Promise<number> {
  return runCli(argv, deps, MAILMEND_COMMAND_GROUPS);
}

if (require.main === module) {
  void runMailmend(process.argv.slice(2), processDeps(process.env)).then((code) => {
    process.exitCode = code;
  });
}
