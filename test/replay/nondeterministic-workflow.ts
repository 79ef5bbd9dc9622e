import { sleep } from '@temporalio/workflow';
import type { IncidentInput, IncidentState } from '../../workflows/messages';
import { mailOutageIncident as recordedWorkflow } from '../../workflows/incident';

/** The recorded workflow with one unguarded change (a timer before the first step): replay must reject it. */
export async function mailOutageIncident(input: IncidentInput): Promise<IncidentState> {
  await sleep('1 second');
  return recordedWorkflow(input);
}
