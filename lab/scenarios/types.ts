import path from 'node:path';
import type { LabContext } from '../context';
import type { LabLayout } from '../layout';
import type { CommandResult } from '../processes';

/** Notes one step of a scenario as a person would read it in a shell history, with the command's answer if any. */
export type RecordStep = (step: string, result?: CommandResult) => void;

/** Breaks the lab one way and returns once the outage is observable; throws when it did not take. */
export type ScenarioRun = (context: LabContext, record: RecordStep) => Promise<void>;

/** Admin editors' backup suffix: `main.cf.bak-20260101T120000`. */
export function backupSuffix(now: Date): string {
  return `bak-${now.toISOString().slice(0, 19).replace(/[-:]/g, '')}`;
}

/** Where scenarios keep what `labHeal` needs to undo them: pid files of foreign processes, moved directories. */
export function scenarioStateDir(layout: LabLayout): string {
  return path.join(layout.stateDir, 'scenario');
}

/** A scenario that did not take effect: the lab is not broken the way its name says. */
export class ScenarioDidNotTakeError extends Error {
  constructor(scenario: string, why: string) {
    super(`${scenario}: ${why}: the scenario did not take`);
    this.name = 'ScenarioDidNotTakeError';
  }
}
