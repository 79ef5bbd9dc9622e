#!/usr/bin/env node
import type { Client } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import ms from 'ms';
import { connectTemporal, isTemporalUnavailable, TemporalUnreachableError } from '../connection';
import {
  addNote,
  approve,
  confirm,
  getIncidentState,
  IncidentCommandError,
  listIncidents,
  reject,
  setEta,
} from '../incidents';
import type { CliDeps } from './deps';

export type { CliDeps, TemporalSession } from './deps';
import { registerDrillCommand } from './drill-command';
import { registerLabCommands } from './lab-commands';
import { renderIncidentList, renderIncidentState } from './render';

/**
 * The `mailmend` program. Each command group registers itself on the root, so later groups (`lab`, `drill`) live in
 * their own files and add one `register…Commands(program, deps)` line here.
 *
 * @example await buildProgram(deps).parseAsync(['incidents', 'show', 'mx1'], { from: 'user' });
 */
export function buildProgram(deps: CliDeps): Command {
  const program = new Command('mailmend')
    .description('Runs the mail-server outage procedure as a durable Temporal workflow')
    .exitOverride()
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr });
  registerIncidentCommands(program, deps);
  registerLabCommands(program, deps);
  registerDrillCommand(program, deps);
  return program;
}

function registerIncidentCommands(program: Command, deps: CliDeps): void {
  const now = deps.now ?? (() => new Date());
  const incidents = program.command('incidents').description('inspect and steer incidents');

  incidents
    .command('list')
    .description('list open incidents, newest first')
    .option('--all', 'include closed incidents')
    .action(async (options: { all?: boolean }) => {
      const openOnly = !options.all;
      const found = await withTemporal(deps, (client) => listIncidents(client, { openOnly }));
      deps.stdout(renderIncidentList(found, openOnly));
    });

  incidents
    .command('show')
    .description("show an incident's phase, pending approval, ETA and recent timeline")
    .argument('<serverId>', 'the mail server, as named in the config')
    .option('--json', 'print the raw state as JSON')
    .action(async (serverId: string, options: { json?: boolean }) => {
      const state = await withTemporal(deps, (client) => getIncidentState(client, serverId));
      deps.stdout(options.json ? `${JSON.stringify(state, null, 2)}\n` : renderIncidentState(state, now()));
    });

  incidents
    .command('approve')
    .description('approve the remediation the incident is waiting for')
    .argument('<serverId>')
    .requiredOption('--by <name>', 'who approves; must be a configured approver')
    .option('--comment <text>', 'why, for the timeline')
    .action(async (serverId: string, options: { by: string; comment?: string }) => {
      await withTemporal(deps, (client) => approve(client, serverId, options));
      deps.stdout(`approval by ${options.by} sent to the incident on ${serverId}\n`);
    });

  incidents
    .command('reject')
    .description('reject the proposed remediation')
    .argument('<serverId>')
    .requiredOption('--by <name>', 'who rejects')
    .requiredOption('--reason <text>', 'why, for the timeline and the next diagnosis')
    .action(async (serverId: string, options: { by: string; reason: string }) => {
      await withTemporal(deps, (client) => reject(client, serverId, options));
      deps.stdout(`rejection by ${options.by} sent to the incident on ${serverId}\n`);
    });

  incidents
    .command('confirm')
    .description('confirm, as a user, that mail works again')
    .argument('<serverId>')
    .requiredOption('--by <name>', 'who confirms')
    .action(async (serverId: string, options: { by: string }) => {
      await withTemporal(deps, (client) => confirm(client, serverId, options));
      deps.stdout(`confirmation by ${options.by} sent to the incident on ${serverId}\n`);
    });

  incidents
    .command('note')
    .description('add a note to the incident timeline')
    .argument('<serverId>')
    .requiredOption('--by <name>', 'who writes the note')
    .requiredOption('--text <text>', 'the note')
    .action(async (serverId: string, options: { by: string; text: string }) => {
      await withTemporal(deps, (client) => addNote(client, serverId, options));
      deps.stdout(`note by ${options.by} added to the incident on ${serverId}\n`);
    });

  incidents
    .command('eta')
    .description('set the estimated repair time announced to users')
    .argument('<serverId>')
    .requiredOption('--by <name>', 'who estimates')
    .requiredOption('--eta <when>', 'an ISO-8601 time (2025-03-01T14:30:00Z) or a duration from now (90m, 2h)')
    .action(async (serverId: string, options: { by: string; eta: string }) => {
      const eta = etaFrom(options.eta, now());
      await withTemporal(deps, (client) => setEta(client, serverId, { by: options.by, eta }));
      deps.stdout(`ETA ${eta} set on the incident on ${serverId}\n`);
    });
}

/** Temporal answered, but the incident workflow did not: queries need a worker, and none replied in time. */
export class IncidentUnresponsiveError extends Error {
  constructor(address: string, timeoutMs: number, options?: ErrorOptions) {
    super(
      `Temporal at ${address} is up, but the incident did not answer within ${timeoutMs} ms: is a mailmend worker running?`,
      options,
    );
    this.name = 'IncidentUnresponsiveError';
  }
}

/** Runs one command's Temporal calls under a deadline, and says where Temporal was expected when it does not answer. */
async function withTemporal<T>(deps: CliDeps, call: (client: Client) => Promise<T>): Promise<T> {
  const session = await deps.connect();
  const timeoutMs = deps.commandTimeoutMs ?? 10_000;
  try {
    // A plain gRPC deadline, not a race: the call must have ended before the connection closes under it.
    return await session.client.connection.withDeadline(Date.now() + timeoutMs, () => call(session.client));
  } catch (error) {
    if (!isTemporalUnavailable(error) || error instanceof TemporalUnreachableError) throw error;
    if (await answers(session.client))
      throw new IncidentUnresponsiveError(session.address, timeoutMs, { cause: error });
    throw new TemporalUnreachableError(session.address, { cause: error });
  } finally {
    await session.close();
  }
}

async function answers(client: Client): Promise<boolean> {
  try {
    await client.connection.withDeadline(Date.now() + 2_000, () => client.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

/** A duration such as `2h` counts from now; anything else must be an ISO timestamp, which `setEta` checks. */
function etaFrom(value: string, now: Date): string {
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed)) return trimmed;
  const millis = ms(trimmed as ms.StringValue);
  if (typeof millis !== 'number' || !Number.isFinite(millis) || millis <= 0) {
    throw new IncidentCommandError('--eta', `"${value}" is neither an ISO-8601 time nor a duration such as 90m or 2h`);
  }
  return new Date(now.getTime() + millis).toISOString();
}

/**
 * Runs the program and returns the exit code: 0, or 1 after printing one line to stderr.
 *
 * @example process.exitCode = await runCli(process.argv.slice(2), processDeps(process.env));
 */
export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  try {
    await buildProgram(deps).parseAsync(argv, { from: 'user' });
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
    connect: async () => {
      const { client, connection, address } = await connectTemporal(env, { connectTimeoutMs: 5_000 });
      return { client, address, close: () => connection.close() };
    },
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}

if (require.main === module) {
  void runCli(process.argv.slice(2), processDeps(process.env)).then((code) => {
    process.exitCode = code;
  });
}
