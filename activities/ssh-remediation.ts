import type { ServerConfig } from '../config/schema';
import type { CommandRecord } from '../workflows/messages';
import { HOST_COMMAND_TIMEOUTS } from './host-command-timeouts';
import type { MailHostAccess } from './mail-host';
import type { ActionOutcome, RemediationExecutor } from './remediation';
import type { CatalogAction } from './remediation-catalog';
import { stepArgv, type Argv, type CatalogCheck, type CatalogStep, type HostFacts } from './remediation-steps';
import { shellQuote, type SshSession } from './ssh';

const MAX_RECORDED_OUTPUT = 1_500;
/** Half the remediation group's 20-second heartbeat timeout, so a long step is not taken for a dead worker. */
const HEARTBEAT_EVERY_MS = 10_000;

/** What a command of an action does decides how long it may take. */
type CommandKind = 'fact' | 'check' | 'step';
const TIMEOUT_OF: Record<CommandKind, number> = {
  fact: HOST_COMMAND_TIMEOUTS.configRead,
  check: HOST_COMMAND_TIMEOUTS.remediationCheck,
  step: HOST_COMMAND_TIMEOUTS.remediationStep,
};

function record(argv: Argv, exitCode: number, output: string): CommandRecord {
  return { command: shellQuote(argv), exitCode, output: output.trim().slice(-MAX_RECORDED_OUTPUT) };
}

/** One SSH session of one action: every command is recorded, and each one is a heartbeat. */
interface ActionRun {
  session: SshSession;
  onProgress: () => void;
}

/** Runs one command within the limit of its kind, and keeps heartbeating while it runs. */
async function runRecorded({ session, onProgress }: ActionRun, argv: Argv, kind: CommandKind): Promise<CommandRecord> {
  onProgress();
  const beating = setInterval(onProgress, HEARTBEAT_EVERY_MS);
  try {
    const run = await session.run(argv, { timeoutMs: TIMEOUT_OF[kind] });
    return record(argv, run.exitCode, run.output);
  } finally {
    clearInterval(beating);
  }
}

/** Runs read-only commands one after another, whatever each answers. */
async function runAll(run: ActionRun, commands: Argv[]): Promise<CommandRecord[]> {
  const records: CommandRecord[] = [];
  for (const argv of commands) records.push(await runRecorded(run, argv, 'check'));
  return records;
}

type FactsRead = { facts: HostFacts; records: CommandRecord[]; refusal?: string };

/** Reads the facts the action declares, in order; the first one missing or malformed ends the action before it acts. */
async function readHostFacts(run: ActionRun, server: ServerConfig, action: CatalogAction): Promise<FactsRead> {
  const facts: Record<string, string> = {};
  const records: CommandRecord[] = [];
  for (const reader of action.facts ?? []) {
    const read = await runRecorded(run, reader.read(server, facts), 'fact');
    records.push(read);
    const value = read.output.trim();
    if (read.exitCode !== 0 || !reader.isValid(value)) {
      const answered = read.exitCode !== 0 ? `exited with ${read.exitCode}` : `answered "${value.slice(0, 80)}"`;
      return { facts, records, refusal: `${reader.name}: \`${read.command}\` ${answered}, not ${reader.expected}` };
    }
    facts[reader.name] = value;
  }
  return { facts, records };
}

async function alreadyInEffect(run: ActionRun, checks: CatalogCheck[]): Promise<CommandRecord[] | undefined> {
  const records: CommandRecord[] = [];
  for (const check of checks) {
    const checked = await runRecorded(run, stepArgv(check), 'check');
    records.push(checked);
    const passesOn = Array.isArray(check) ? 0 : check.passesOnExitCode;
    if (checked.exitCode !== passesOn) return undefined;
  }
  return records.length > 0 ? records : undefined;
}

/**
 * Runs the steps in order. A plain step that fails ends the run with its exit code. A probe's exit code never ends it:
 * it decides whether each later `when` step runs, and a step whose condition does not hold is left out.
 */
async function runSteps(run: ActionRun, steps: CatalogStep[]): Promise<{ exitCode: number; records: CommandRecord[] }> {
  const records: CommandRecord[] = [];
  let probePassed: boolean | undefined;
  for (const step of steps) {
    if (!Array.isArray(step) && 'when' in step) {
      if (probePassed === undefined || probePassed !== (step.when === 'probe-passed')) continue;
    }
    const ran = await runRecorded(run, stepArgv(step), 'step');
    records.push(ran);
    if (!Array.isArray(step) && 'probe' in step) probePassed = ran.exitCode === 0;
    else if (ran.exitCode !== 0) return { exitCode: ran.exitCode, records };
  }
  return { exitCode: 0, records };
}

function transcript(records: CommandRecord[]): string {
  return records.map((command) => `$ ${command.command}\n${command.output}`).join('\n');
}

/** A compact timestamp for backup names, from the activity's clock, e.g. `20260101T120000Z`. */
export function backupStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

async function runActionOnHost(run: ActionRun, server: ServerConfig, action: CatalogAction, stamp: string) {
  const { facts, records: factRecords, refusal } = await readHostFacts(run, server, action);
  if (refusal) {
    return { exitCode: 1, output: `nothing was changed: ${refusal}`, alreadyApplied: false, snapshot: factRecords };
  }
  if (action.idempotent) {
    const checked = await alreadyInEffect(run, action.alreadyApplied(server, facts));
    if (checked) {
      const commands = [...factRecords, ...checked];
      return { exitCode: 0, output: 'already in effect; nothing was run', alreadyApplied: true, commands };
    }
  }
  const snapshot = [...factRecords, ...(await runAll(run, action.snapshot(server, facts)))];
  const { exitCode, records: commands } = await runSteps(run, action.steps(server, stamp, facts));
  return { exitCode, output: transcript(commands), alreadyApplied: false, snapshot, commands };
}

/**
 * Runs catalog actions over one SSH connection per action. It first reads the facts the action needs from the host
 * (a master pid, the queue directory), each validated before any command uses it. For an idempotent action it then
 * runs the read-only check, and when the effect is already in place it runs nothing else. Otherwise it snapshots what
 * the action changes, then runs its steps in order, stopping at the first failure. An action that is not idempotent
 * has no check: it runs in full every time, which is why `runRemediation` never lets a retry reach it.
 */
export function createSshRemediationExecutor(
  mailHost: MailHostAccess,
  now: () => Date = () => new Date(),
): RemediationExecutor {
  return {
    async runAction(server: ServerConfig, action: CatalogAction, onProgress: () => void): Promise<ActionOutcome> {
      return mailHost.withSsh(server, (session) =>
        runActionOnHost({ session, onProgress }, server, action, backupStamp(now())),
      );
    },
  };
}
