import { sleep } from '@temporalio/workflow';
import type { IncidentInput, IncidentState } from '../../workflows/messages';
import { mailOutageIncident as releaseA } from '../../workflows/incident';

/**
 * A next release of the incident workflow with a change `patched()` does not guard: it lets a burst of alerts settle
 * for a second before the first step. Its first command is a timer where release A's was an activity, so it cannot
 * replay an incident A started: only Worker Versioning keeps such an incident on A's workers.
 */
export async function mailOutageIncident(input: IncidentInput): Promise<IncidentState> {
  await sleep('1 second');
  return releaseA(input);
}
