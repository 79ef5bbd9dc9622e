import type { LabContext } from '../context';
import { dovecotStopCommand } from '../dovecot';
import { postfixCommand } from '../postfix';
import { runOrThrow } from '../processes';
import { serviceState, waitServiceDown } from '../services';
import type { RecordStep, ScenarioRun } from './types';

export async function stopPostfix({ tools, layout, settings }: LabContext, record: RecordStep): Promise<void> {
  if ((await serviceState(layout, settings, 'postfix')).pid === undefined) return;
  record('stop Postfix', await runOrThrow(postfixCommand(tools, layout, 'stop'), 'stopping Postfix'));
  await waitServiceDown(layout, settings, 'postfix');
}

export async function stopDovecot({ tools, layout, settings }: LabContext, record: RecordStep): Promise<void> {
  if ((await serviceState(layout, settings, 'dovecot')).pid === undefined) return;
  record('stop Dovecot', await runOrThrow(dovecotStopCommand(tools, layout), 'stopping Dovecot'));
  await waitServiceDown(layout, settings, 'dovecot');
}

export const postfixStopped: ScenarioRun = stopPostfix;
export const dovecotStopped: ScenarioRun = stopDovecot;
