import type { IncidentInput } from '../workflows/messages';
import type { MailmendConfig } from './schema';

/** The workflow input for one server: policy and names only, so no secret can reach the history. */
export function incidentInputFor(config: MailmendConfig, serverId: string): IncidentInput {
  const { policies } = config;
  return {
    serverId,
    approvers: [...config.approvers],
    audiences: {
      itTeam: config.audiences.itTeam.channels.map((channel) => channel.name),
      management: config.audiences.management.channels.map((channel) => channel.name),
      users: config.audiences.users.channels.map((channel) => channel.name),
    },
    policies: {
      updateIntervalMs: policies.updateInterval,
      approvalTimeoutMs: policies.approvalTimeout,
      confirmationTimeoutMs: policies.confirmationTimeout,
      confirmationsRequired: policies.confirmationsRequired,
      responseTimeTargetMs: policies.responseTimeTarget,
      maxVerificationAttempts: policies.maxVerificationAttempts,
      maxRejections: policies.maxRejections,
      verificationSettleMs: policies.verificationSettle,
      assessmentDeadlineMs: policies.assessmentDeadline,
      approvalsRequired: { ...policies.approvalsRequired },
      ...(policies.initialEta !== undefined ? { initialEtaMs: policies.initialEta } : {}),
    },
  };
}

/** Finds the server an alert label value names, by id or alias. */
export function findServerId(config: MailmendConfig, labelValue: string): string | undefined {
  return config.servers.find((server) => server.id === labelValue || server.aliases.includes(labelValue))?.id;
}
