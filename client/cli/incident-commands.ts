import type { Client } from '@temporalio/client';
import { Option, type Command } from 'commander';
import ms from 'ms';
import { isTemporalUnavailable, TemporalUnreachableError } from '../../platform/temporal/connection';
import {
  addNote,
  approve,
  close,
  confirm,
  getIncidentState,
  IncidentCommandError,
  listIncidents,
  reject,
  setEta,
} from '../incidents';
import {
  PHASES,
  type ApproveSignal,
  type CloseSignal,
  type ConfirmSignal,
  type DecisionReceipt,
  type NoteSignal,
  type Phase,
  type RejectSignal,
  type SetEtaSignal,
} from '../../workflows/messages';
import { isWorkerGone } from '../worker-gone';
import type { CliDeps } from './deps';
import { renderIncidentList, renderIncidentState } from './render';

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

interface DecisionOption {
  flags: string;
  description: string;
  required: boolean;
}

/**
 * A command a person sends to one incident: who sends it, what it carries, and what the CLI prints once the incident
 * took it. Decisions are Updates, so the printed outcome is the incident's own; a refusal exits non-zero with why.
 */
interface DecisionCommand<Options extends { by: string }, Result> {
  name: string;
  description: string;
  byDescription: string;
  options: DecisionOption[];
  /** Checks and normalizes the options before anything connects, so a bad value is reported as such. */
  prepare?(options: Options, now: Date): Options;
  send(client: Client, serverId: string, options: Options): Promise<Result>;
  /** What the CLI prints once the incident took it. */
  done(serverId: string, result: Result, options: Options): string;
}

/** What the incident did with a decision, in the words the person who sent it reads. */
export function describeReceipt(serverId: string, receipt: DecisionReceipt): string {
  switch (receipt.decision) {
    case 'approved':
      return `${receipt.by} approved ${receipt.actionId} on the incident on ${serverId}; the fix runs now`;
    case 'approval-recorded': {
      const missing = receipt.required - receipt.approvals.length;
      const more = missing === 1 ? 'another approver approves' : `${missing} more approvers approve`;
      // Asking for an action other than the recommended one is a request: its approvals must come from others.
      if (!receipt.approvals.includes(receipt.by)) {
        return (
          `${receipt.by} asked for ${receipt.actionId} on ${serverId} instead of the recommended fix; ` +
          `it runs once ${more} with --action ${receipt.actionId}`
        );
      }
      return (
        `${receipt.by}'s approval of ${receipt.actionId} on ${serverId} counted: ` +
        `${receipt.approvals.length} of ${receipt.required} approvers; it runs once ${more}`
      );
    }
    case 'rejected':
      return `${receipt.by} rejected the fix on ${serverId} (rejection ${receipt.rejections} of ${receipt.maxRejections} before it is handed over)`;
    case 'confirmed':
      return `${receipt.by} confirmed the fix on ${serverId} (${receipt.confirmations}/${receipt.required} confirmations)`;
    case 'eta-set':
      return `${receipt.by} set the ETA of the incident on ${serverId} to ${receipt.eta}`;
    case 'closed':
      return `${receipt.by} closed the incident on ${serverId} (${receipt.reason}); it ends after the post-incident review`;
  }
}

const decisionCommands = [
  decisionCommand({
    name: 'approve',
    description: 'approve the remediation the incident is waiting for',
    byDescription: 'who approves; must be a configured approver',
    options: [
      { flags: '--comment <text>', description: 'why, for the timeline', required: false },
      {
        flags: '--action <actionId>',
        description: "approve another offered hypothesis's action instead of the recommended one",
        required: false,
      },
    ],
    prepare: ({ action, ...approval }) => (action !== undefined ? { ...approval, actionId: action } : approval),
    send: approve,
    done: describeReceipt,
  } satisfies DecisionCommand<ApproveSignal & { action?: string }, DecisionReceipt>),
  decisionCommand({
    name: 'reject',
    description: 'reject the proposed remediation',
    byDescription: 'who rejects',
    options: [
      { flags: '--reason <text>', description: 'why, for the timeline and the next diagnosis', required: true },
    ],
    send: reject,
    done: describeReceipt,
  } satisfies DecisionCommand<RejectSignal, DecisionReceipt>),
  decisionCommand({
    name: 'confirm',
    description: 'confirm, as a user, that mail works again',
    byDescription: 'who confirms',
    options: [],
    send: confirm,
    done: describeReceipt,
  } satisfies DecisionCommand<ConfirmSignal, DecisionReceipt>),
  decisionCommand({
    name: 'close',
    description: 'end the procedure by hand, e.g. after a fix outside mailmend or a drill left open',
    byDescription: 'who closes; must be a configured approver',
    options: [{ flags: '--reason <text>', description: 'why, for the timeline and the report', required: true }],
    send: close,
    done: describeReceipt,
  } satisfies DecisionCommand<CloseSignal, DecisionReceipt>),
  decisionCommand({
    name: 'note',
    description: 'add a note to the incident timeline',
    byDescription: 'who writes the note',
    options: [{ flags: '--text <text>', description: 'the note', required: true }],
    send: addNote,
    done: (serverId, _sent, { by }) => `note by ${by} sent to the incident on ${serverId}`,
  } satisfies DecisionCommand<NoteSignal, void>),
  decisionCommand({
    name: 'eta',
    description: 'set the estimated repair time announced to users',
    byDescription: 'who estimates',
    options: [
      {
        flags: '--eta <when>',
        description: 'an ISO-8601 time (2025-03-01T14:30:00Z) or a duration from now (90m, 2h)',
        required: true,
      },
    ],
    prepare: (options, now) => ({ ...options, eta: etaFrom(options.eta, now) }),
    send: setEta,
    done: describeReceipt,
  } satisfies DecisionCommand<SetEtaSignal, DecisionReceipt>),
];

/** `mailmend incidents list|show|approve|reject|confirm|close|note|eta`. */
export function registerIncidentCommands(program: Command, deps: CliDeps): void {
  const now = deps.now ?? (() => new Date());
  const incidents = program.command('incidents').description('inspect and steer incidents');

  incidents
    .command('list')
    .description('list open incidents, newest first, with their phase, severity and pending action')
    .option('--all', 'include closed incidents')
    .addOption(new Option('--phase <phase>', 'only incidents in this phase').choices(PHASES))
    .action(async (options: { all?: boolean; phase?: Phase }) => {
      const filter = { openOnly: !options.all, ...(options.phase ? { phase: options.phase } : {}) };
      const found = await withTemporal(deps, (client) => listIncidents(client, filter));
      deps.stdout(renderIncidentList(found, filter));
    });

  incidents
    .command('show')
    .description("show an incident's phase, pending approval with its full evidence, ETA, next commands and timeline")
    .argument('<serverId>', 'the mail server, as named in the config')
    .option('--json', 'print the raw state as JSON')
    .action(async (serverId: string, options: { json?: boolean }) => {
      const state = await withTemporal(deps, (client) => getIncidentState(client, serverId));
      deps.stdout(options.json ? `${JSON.stringify(state, null, 2)}\n` : renderIncidentState(state, now()));
    });

  for (const register of decisionCommands) register(incidents, deps, now);
}

type RegisterCommand = (incidents: Command, deps: CliDeps, now: () => Date) => void;

function decisionCommand<Options extends { by: string }, Result>(
  decision: DecisionCommand<Options, Result>,
): RegisterCommand {
  return (incidents, deps, now) => registerDecisionCommand(incidents, decision, deps, now);
}

function registerDecisionCommand<Options extends { by: string }, Result>(
  incidents: Command,
  decision: DecisionCommand<Options, Result>,
  deps: CliDeps,
  now: () => Date,
): void {
  const command = incidents
    .command(decision.name)
    .description(decision.description)
    .argument('<serverId>')
    .requiredOption('--by <name>', decision.byDescription);
  for (const option of decision.options) {
    if (option.required) command.requiredOption(option.flags, option.description);
    else command.option(option.flags, option.description);
  }
  command.action(async (serverId: string, given: Options) => {
    const options = decision.prepare ? decision.prepare(given, now()) : given;
    let result: Result;
    try {
      result = await withTemporal(deps, (client) => decision.send(client, serverId, options));
    } catch (error) {
      // Temporal holds an Update it has admitted even when no worker takes it before the deadline.
      if (!(error instanceof IncidentUnresponsiveError)) throw error;
      throw new Error(`${error.message} The ${decision.name} may still take effect once a worker picks it up.`, {
        cause: error,
      });
    }
    deps.stdout(`${decision.done(serverId, result, options)}\n`);
  });
}

/** Runs one command's Temporal calls under a deadline, and says where Temporal was expected when it does not answer. */
async function withTemporal<T>(deps: CliDeps, call: (client: Client) => Promise<T>): Promise<T> {
  const session = await deps.connect();
  const timeoutMs = deps.commandTimeoutMs ?? 10_000;
  try {
    // A plain gRPC deadline, not a race: the call must have ended before the connection closes under it.
    return await session.client.connection.withDeadline(Date.now() + timeoutMs, () => call(session.client));
  } catch (error) {
    // Temporal answered, but no worker did: the server says so instead of letting the deadline pass.
    if (!isTemporalUnavailable(error) && isWorkerGone(error)) {
      throw new IncidentUnresponsiveError(session.address, timeoutMs, { cause: error });
    }
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
