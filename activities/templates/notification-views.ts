import {
  NO_CATALOG_ACTION,
  type AudienceName,
  type HypothesisSummary,
  type NotificationMessage,
  type UncheckedProbe,
  type UndeliveredNotice,
} from '../../workflows/messages';

/**
 * What each audience's templates can see. Every key is always present (null or empty when unknown), so strict
 * templates fail on a misspelt key rather than on an absent value. The users' and management's views leave out what
 * those audiences must never be shown (incident id, diagnosis text, action ids), so even an operator's template
 * cannot print them: it fails at load instead.
 */
export type NotificationView = ReturnType<typeof usersView> | ReturnType<typeof managementView> | ItTeamView;

function usersView(message: NotificationMessage) {
  return {
    kind: message.kind,
    scope: message.scope,
    openedAt: message.openedAt,
    eta: message.eta ?? null,
    etaChanged: message.etaChanged ?? false,
    checksPassed: message.checksPassed ?? false,
  };
}

function managementView(message: NotificationMessage) {
  return {
    ...usersView(message),
    serverId: message.serverId,
    severity: message.severity,
    phase: message.phase,
    causeClass: message.causeClass ?? null,
    escalation: message.escalation ?? null,
    closedBy: message.closedBy ?? null,
    /** Audiences a notice did not reach; which channel and why is for the IT team. */
    notReached: [...new Set((message.undelivered ?? []).map(({ audience }) => audience))],
    awaitingApproval: message.actionNeeded?.kind === 'approve',
    awaitingConfirmation: message.actionNeeded?.kind === 'confirm',
    /** Only whether there are any: the items themselves are technical, and may quote the diagnosis. */
    preventionRecommended: (message.prevention ?? []).length > 0,
    certificatesExpiring: (message.certificates ?? []).map((certificate) => ({
      service: certificate.service.toUpperCase(),
      validTo: certificate.validTo,
      daysLeft: certificate.daysLeft,
    })),
  };
}

interface ItTeamView extends ReturnType<typeof managementView> {
  incidentId: string;
  rootCause: string | null;
  reason: string | null;
  unchecked: UncheckedProbe[];
  undelivered: UndeliveredNotice[];
  actionsTaken: string[];
  prevention: string[];
  hypotheses: HypothesisSummary[];
  /** The ranked causes whose fix may be approved instead of the requested one; empty unless approval is asked. */
  alternatives: HypothesisSummary[];
  certificates: { service: string; subject: string; issuer: string; validTo: string; daysLeft: number }[];
  soonestDaysLeft: number | null;
  approve: {
    actionId: string;
    description: string;
    risk: string;
    required: number;
    approvals: number;
    approvedBy: string[];
  } | null;
  confirm: { required: number; confirmations: number; confirmedBy: string[] } | null;
}

function itTeamView(message: NotificationMessage): ItTeamView {
  const action = message.actionNeeded;
  const approve =
    action?.kind === 'approve'
      ? {
          actionId: action.actionId,
          description: action.description,
          risk: action.risk,
          required: action.required,
          approvals: action.approvedBy.length,
          approvedBy: action.approvedBy,
        }
      : null;
  const hypotheses = message.hypotheses ?? [];
  const certificates = (message.certificates ?? []).map((certificate) => ({
    ...certificate,
    service: certificate.service.toUpperCase(),
  }));
  return {
    ...managementView(message),
    incidentId: message.incidentId,
    rootCause: message.rootCause ?? null,
    reason: message.reason ?? null,
    unchecked: message.unchecked ?? [],
    undelivered: message.undelivered ?? [],
    actionsTaken: message.actionsTaken ?? [],
    prevention: message.prevention ?? [],
    hypotheses,
    alternatives: approve
      ? hypotheses.filter(({ actionId }) => actionId !== approve.actionId && actionId !== NO_CATALOG_ACTION)
      : [],
    certificates,
    soonestDaysLeft: certificates.length > 0 ? Math.min(...certificates.map(({ daysLeft }) => daysLeft)) : null,
    approve,
    confirm:
      action?.kind === 'confirm'
        ? { required: action.required, confirmations: action.confirmedBy.length, confirmedBy: action.confirmedBy }
        : null,
  };
}

/** The view one audience's templates render. */
export function notificationView(audience: AudienceName, message: NotificationMessage): NotificationView {
  switch (audience) {
    case 'users':
      return usersView(message);
    case 'management':
      return managementView(message);
    case 'itTeam':
      return itTeamView(message);
  }
}
