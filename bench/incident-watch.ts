import type { Client } from '@temporalio/client';
import { getIncidentState } from '../client/incidents';
import type { IncidentState, Outcome, Phase } from '../workflows/messages';

const OUTCOMES: readonly Phase[] = ['closed', 'false-alarm', 'escalated'] satisfies Outcome[];
const POLL_INTERVAL_MS = 500;

/** The incident has ended: closed, closed as a false alarm, or handed over to people. */
export function hasEnded(state: IncidentState): boolean {
  return OUTCOMES.includes(state.phase);
}

export interface WatchedIncident {
  state: IncidentState;
  /** False when `timeoutMs` passed first; `state` is then the last one read. */
  reached: boolean;
  /** Every phase seen while watching, in order. */
  phases: Phase[];
}

/**
 * Reads the incident's state through the `state` query, as `mailmend incidents show` does, until `done` holds.
 *
 * @example const { state } = await watchIncident(client, 'mx1', (s) => s.phase === 'awaiting-approval', 180_000);
 */
export async function watchIncident(
  client: Client,
  serverId: string,
  done: (state: IncidentState) => boolean,
  timeoutMs: number,
): Promise<WatchedIncident> {
  const deadline = Date.now() + timeoutMs;
  const phases: Phase[] = [];
  for (;;) {
    const state = await getIncidentState(client, serverId);
    if (phases.at(-1) !== state.phase) phases.push(state.phase);
    if (done(state)) return { state, reached: true, phases };
    if (Date.now() >= deadline) return { state, reached: false, phases };
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
