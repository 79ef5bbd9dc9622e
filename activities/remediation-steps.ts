import type { ServerConfig } from '../config/schema';
import type { Risk } from '../workflows/messages';

export type Argv = string[];

/**
 * A command of an action. Plain argv must succeed, or the action stops there. A probe is a read-only command whose
 * failure does not stop the action: it only decides which of the steps that follow, marked `when`, run. That is how an
 * action says "start Dovecot when it is down, reload it when it is up" without a shell.
 */
export type CatalogStep = Argv | { argv: Argv; probe: true } | { argv: Argv; when: 'probe-passed' | 'probe-failed' };

/** A read-only check of `alreadyApplied`: it passes on exit code 0, or on the one exit code it names instead. */
export type CatalogCheck = Argv | { argv: Argv; passesOnExitCode: number };

export function stepArgv(step: CatalogStep | CatalogCheck): Argv {
  return Array.isArray(step) ? step : step.argv;
}

/**
 * What an action reads from the host before it builds its commands, such as a daemon's master pid. Each is read with a
 * fixed read-only command and kept only when its whole trimmed output matches `pattern`, so nothing the host prints
 * can widen a command.
 */
export type HostFactName = 'postfixQueueDir' | 'postfixMasterPid' | 'dovecotBaseDir' | 'dovecotMasterPid';
export type HostFacts = Readonly<Partial<Record<HostFactName, string>>>;

export interface HostFactReader {
  name: HostFactName;
  /** Read-only; may use the facts read before it. */
  read(server: ServerConfig, facts: HostFacts): Argv;
  /** What a valid value looks like, for the error when the host answers something else. */
  expected: string;
  isValid(value: string): boolean;
}

/** A pid that names one real process group: never 0 or 1, which `kill -- -N` would read as "every process". */
export function isProcessGroupPid(value: string): boolean {
  return /^\d+$/.test(value) && Number(value) > 1 && Number(value) < 2 ** 22;
}

/** An absolute path of plain characters with no `..` step, safe to join more path parts to. */
export function isPlainAbsolutePath(value: string): boolean {
  return /^\/[A-Za-z0-9._+/-]*$/.test(value) && !value.split('/').includes('..');
}

/** The fact an action declared, or an error: a builder never runs with a fact that was not read and validated. */
export function requireFact(facts: HostFacts, name: HostFactName): string {
  const value = facts[name];
  if (value === undefined) throw new Error(`the host fact ${name} was not read`);
  return value;
}

interface CatalogActionBase {
  id: string;
  /** What the approver reads: the action's effect, and for an action that is not idempotent, what a second run does. */
  description: string;
  risk: Risk;
  rollback: string;
  /** Read from the host, in order, before anything else; the builders below receive them validated. */
  facts?: readonly HostFactReader[];
  /** Read-only commands whose output records what the action is about to change. */
  snapshot(server: ServerConfig, facts: HostFacts): Argv[];
  /** Run in order (see `CatalogStep`); a failing step stops the action. `stamp` names backups uniquely per run. */
  steps(server: ServerConfig, stamp: string, facts: HostFacts): CatalogStep[];
}

/** An action whose effect a read-only check can see: once the effect is in place, running it again repeats nothing. */
interface IdempotentAction extends CatalogActionBase {
  idempotent: true;
  /** Read-only checks that all pass only when the action's effect is already in place. */
  alreadyApplied(server: ServerConfig, facts: HostFacts): CatalogCheck[];
}

/** An action that changes the host again on every run (a restart, a flush): a retry would repeat it. */
interface RepeatingAction extends CatalogActionBase {
  idempotent: false;
}

export type CatalogActionDefinition = IdempotentAction | RepeatingAction;

/**
 * One of the only things mailmend ever runs to change a mail host. Every argv is fixed: the server's config may choose
 * paths, and facts read from the host may fill in strictly validated values, but nothing from an alert or a signal is
 * ever part of a command.
 */
export type CatalogAction = CatalogActionDefinition & {
  /**
   * Every step's argv, both branches of a probe included, for people to read or run by hand. Throws for an action
   * that needs facts from the host, since those are known only when it runs.
   */
  commands(server: ServerConfig, stamp: string): Argv[];
};
