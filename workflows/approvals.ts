import type { IncidentState, Risk } from './messages';

type PendingApproval = NonNullable<IncidentState['pendingApproval']>;

/** The approvals one action has collected, and who asked for it when it is not the recommended one. */
interface Tally {
  approvedBy: string[];
  requestedBy?: string;
}

/** Distinct approvers an action of `risk` needs; a policy without `approvalsRequired` asks for one. */
export function approvalsRequired(policy: Partial<Record<Risk, number>> | undefined, risk: Risk): number {
  return Math.max(1, policy?.[risk] ?? 1);
}

function tallyOf(pending: PendingApproval, actionId: string): Tally {
  if (actionId === pending.actionId) return { approvedBy: pending.approvedBy ?? [] };
  const request = pending.requests?.find((requested) => requested.actionId === actionId);
  return request ? { approvedBy: request.approvedBy, requestedBy: request.requestedBy } : { approvedBy: [] };
}

/**
 * Why `by` may not approve `actionId` now, or nothing. Each approver counts once per action, and whoever asks for an
 * action other than the recommended one cannot approve it too: it needs its approvals from the others.
 */
export function approvalRefusal(
  pending: PendingApproval,
  approvers: readonly string[],
  by: string,
  actionId: string,
): string | undefined {
  const required = pending.required ?? 1;
  const tally = tallyOf(pending, actionId);
  if (tally.requestedBy === by) {
    return (
      `${by} asked for ${actionId} instead of the recommended ${pending.actionId}, so their own approval does not ` +
      `count: it needs ${required} approval(s) from other approvers (${tally.approvedBy.length} so far)`
    );
  }
  if (tally.approvedBy.includes(by)) {
    return `${by} has already approved ${actionId}: it needs ${required} distinct approvers (${tally.approvedBy.length} so far)`;
  }
  const others = approvers.filter((approver) => approver !== by).length;
  if (actionId !== pending.actionId && tally.requestedBy === undefined && others < required) {
    return `${actionId} would need ${required} approval(s) from approvers other than ${by}, and only ${others} are listed`;
  }
  return undefined;
}

/**
 * Counts `by`'s approval of `actionId`. The first approval of another offered action is the request for it, and
 * does not count toward it.
 */
export function countApproval(
  pending: PendingApproval,
  by: string,
  actionId: string,
): { approvedBy: string[]; requested: boolean } {
  if (actionId === pending.actionId) {
    pending.approvedBy = [...(pending.approvedBy ?? []), by];
    return { approvedBy: pending.approvedBy, requested: false };
  }
  pending.requests ??= [];
  const request = pending.requests.find((requested) => requested.actionId === actionId);
  if (!request) {
    pending.requests.push({ actionId, requestedBy: by, approvedBy: [] });
    return { approvedBy: [], requested: true };
  }
  request.approvedBy.push(by);
  return { approvedBy: request.approvedBy, requested: false };
}
