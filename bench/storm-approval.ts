import type { Client } from '@temporalio/client';
import { approve, confirm, IncidentDecisionRefusedError } from '../client/incidents';
import type { DecisionReceipt } from '../workflows/messages';
import { BENCH_APPROVERS } from './bench-config';
import { formatMs, report, type Figure } from './figures';
import { hasEnded, watchIncident } from './incident-watch';
import type { StormTarget } from './storm-lab';

const DIAGNOSIS_TIMEOUT_MS = 180_000;
const FIX_TIMEOUT_MS = 180_000;
const GOAL = 'approve() returns a receipt';

/**
 * After the storm, the incident must still take a person's decision: waits for the approval request, approves through
 * `approve()` (the Update behind `mailmend incidents approve`), lets the fix run and verify, has two people confirm,
 * and heals the lab.
 */
export async function approveAfterStorm(
  client: Client,
  serverId: string,
  lab: Extract<StormTarget, { kind: 'lab' }>,
): Promise<Figure> {
  const name = 'storm: still approvable';
  const asked = await watchIncident(
    client,
    serverId,
    (state) => state.phase === 'awaiting-approval' || hasEnded(state),
    DIAGNOSIS_TIMEOUT_MS,
  );
  report('storm', `phases until the approval request: ${asked.phases.join(' -> ')}`);
  if (asked.state.phase !== 'awaiting-approval') {
    const why = asked.reached ? `${asked.state.phase}: ${asked.state.outcomeReason ?? ''}` : 'no request in time';
    return { name, goal: GOAL, measured: `never asked (${why})`, met: false };
  }
  report('storm', `diagnosis: ${asked.state.diagnosis?.rootCause}; proposed ${asked.state.pendingApproval?.actionId}`);
  const approvedAt = Date.now();
  let receipt: DecisionReceipt;
  try {
    receipt = await approve(client, serverId, { by: 'alice', comment: 'approved by the bench after the storm' });
  } catch (error) {
    if (!(error instanceof IncidentDecisionRefusedError)) throw error;
    return { name, goal: GOAL, measured: `refused: ${error.reason}`, met: false };
  }
  report('storm', `approve() receipt: ${JSON.stringify(receipt)}`);
  const { outcome, verifiedMs } = await letTheFixRun(client, serverId, approvedAt);
  report('storm', `lab healed: ${(await lab.heal()).join('; ')}`);
  return {
    name,
    goal: GOAL,
    measured: `${describeReceipt(receipt)}; ${outcome}`,
    met: true,
    reading:
      verifiedMs === undefined
        ? undefined
        : { amount: verifiedMs / 1_000, unit: 's', label: 'storm: still approvable, fix verified after approval' },
  };
}

interface FixOutcome {
  outcome: string;
  /** From the approval to the verified round trip; undefined when the fix was not verified. */
  verifiedMs?: number;
}

/** The fix runs and verifies; then the confirmations the procedure asks for close the incident. */
async function letTheFixRun(client: Client, serverId: string, approvedAt: number): Promise<FixOutcome> {
  const verified = await watchIncident(
    client,
    serverId,
    (state) => state.roundTrip?.ok === true || hasEnded(state),
    FIX_TIMEOUT_MS,
  );
  const fix = verified.state.remediations.at(-1);
  report(
    'storm',
    `fix: ${fix ? `${fix.actionId} exit ${fix.exitCode}` : 'none ran'}; phases ${verified.phases.join(' -> ')}`,
  );
  if (verified.state.roundTrip?.ok !== true) return { outcome: `fix not verified (${verified.state.phase})` };
  const verifiedMs = Date.now() - approvedAt;
  for (const by of BENCH_APPROVERS) await confirm(client, serverId, { by });
  const closed = await watchIncident(client, serverId, hasEnded, FIX_TIMEOUT_MS);
  return { outcome: `fix verified ${formatMs(verifiedMs)} after approval, incident ${closed.state.phase}`, verifiedMs };
}

function describeReceipt(receipt: DecisionReceipt): string {
  return receipt.decision === 'approved' ? `approved ${receipt.actionId} by ${receipt.by}` : receipt.decision;
}
