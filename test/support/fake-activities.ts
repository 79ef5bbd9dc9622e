import type { MailmendActivities } from '../../activities';
import type { SendNotificationInput } from '../../workflows/activity-contract';
import {
  NO_CATALOG_ACTION,
  type CertificateSummary,
  type CheckResult,
  type Diagnosis,
  type Handover,
  type Hypothesis,
  type ProbeReport,
  type Risk,
  type UncheckedProbe,
} from '../../workflows/messages';
import { ApplicationFailure } from '@temporalio/common';

const up: CheckResult = { ok: true, latencyMs: 3, detail: '220 mail.test ESMTP' };
const refused: CheckResult = { ok: false, latencyMs: 1, detail: 'ECONNREFUSED', errorCode: 'ECONNREFUSED' };

interface FakeMailHost {
  smtpUp: boolean;
  imapUp: boolean;
}

export interface FakeActivityOptions {
  host?: Partial<FakeMailHost>;
  /** How many remediation runs leave the host broken before one fixes it. */
  failedFixes?: number;
  recommendedAction?: string;
  /** Picks the recommended action from the probes the diagnosis sees; `recommendedAction` otherwise. */
  recommendedActionFor?: (probes: ProbeReport) => string;
  /** The recommended action's risk; low unless set. */
  recommendedRisk?: Risk;
  /** Makes the diagnosis hand over with these instructions, as when the host cannot be reached. */
  handover?: Handover;
  /** The ranked hypotheses the diagnosis reports besides its recommendation. */
  hypotheses?: Hypothesis[];
  /** Certificates the probes see expiring soon. */
  certificateWarnings?: CertificateSummary[];
  /** Checks the probes report they could not make, as when SSH to the host hangs. */
  unchecked?: UncheckedProbe[];
  /** Channels whose every send is refused, as when a relay or chat service is down. */
  failingChannels?: string[];
}

/** Typed like the real activities; records what the workflow asked for and simulates a host that a fix repairs. */
export function createFakeActivities(options: FakeActivityOptions = {}) {
  const host: FakeMailHost = { smtpUp: false, imapUp: true, ...options.host };
  const notifications: SendNotificationInput[] = [];
  const remediations: string[] = [];
  const diagnoses: ProbeReport[] = [];
  const probes: ProbeReport[] = [];
  const reports: unknown[] = [];
  const activities: MailmendActivities = {
    async probeServer({ context }) {
      const report = {
        ...probeReportFor(context.serverId, host),
        ...(options.certificateWarnings ? { certificateWarnings: options.certificateWarnings } : {}),
        ...(options.unchecked ? { unchecked: options.unchecked } : {}),
      };
      probes.push(report);
      return report;
    },
    async diagnoseOutage({ probes: diagnosed }) {
      diagnoses.push(diagnosed);
      const diagnosis = postfixDownDiagnosis(
        diagnosed,
        options.recommendedActionFor?.(diagnosed) ?? options.recommendedAction ?? 'start-postfix',
        options.recommendedRisk ?? 'low',
      );
      return {
        ...diagnosis,
        ...(options.handover ? { handover: options.handover } : {}),
        ...(options.hypotheses ? { hypotheses: options.hypotheses } : {}),
      };
    },
    verifyRoundTrip: async () => ({
      ok: true,
      token: 'mailmend-fake',
      roundTripMs: 5,
      detail: 'delivered to canary@example.org in 5 ms',
    }),
    async sendNotification(input) {
      if (options.failingChannels?.includes(input.channel)) {
        throw ApplicationFailure.create({
          type: 'NotificationRejected',
          message: `${input.channel} refused the message`,
          nonRetryable: true,
        });
      }
      notifications.push(input);
      const { channel, audience } = input;
      return { channel, audience, kind: input.message.kind, sentAt: new Date().toISOString(), ok: true };
    },
    runRemediation: fakeRemediation(host, options.failedFixes ?? 0, remediations),
    async writeIncidentReport({ context, report }) {
      reports.push(report);
      return { markdownPath: `/reports/${context.incidentId}.md`, jsonPath: `/reports/${context.incidentId}.json` };
    },
  };
  return { activities, host, notifications, remediations, diagnoses, probes, reports };
}

function probeReportFor(serverId: string, host: FakeMailHost): ProbeReport {
  return {
    serverId,
    checkedAt: new Date().toISOString(),
    tcpSmtp: host.smtpUp ? up : refused,
    smtp: host.smtpUp ? up : refused,
    imap: host.imapUp ? { ...up, detail: '* OK IMAP ready' } : refused,
  };
}

function postfixDownDiagnosis(probes: ProbeReport, actionId: string, risk: Risk): Diagnosis {
  return {
    rootCause: probes.imap.ok
      ? 'Nothing listens on the SMTP port: Postfix is not running'
      : 'Neither SMTP nor IMAP answers: the mail host is down',
    evidence: [`tcp: ${probes.tcpSmtp.detail}`],
    diagnosedAt: new Date().toISOString(),
    recommendation: {
      actionId,
      description: actionId === NO_CATALOG_ACTION ? 'hand over' : 'Start Postfix',
      risk,
      rollback: 'postfix stop',
    },
  };
}

/** Each run is recorded; the first `failedFixes` runs leave the host broken, the next one brings it all up. */
function fakeRemediation(
  host: FakeMailHost,
  failedFixes: number,
  remediations: string[],
): MailmendActivities['runRemediation'] {
  let failedFixesLeft = failedFixes;
  return async ({ actionId }) => {
    remediations.push(actionId);
    if (failedFixesLeft > 0) failedFixesLeft -= 1;
    else Object.assign(host, { smtpUp: true, imapUp: true });
    return {
      actionId,
      exitCode: 0,
      output: 'postfix/postfix-script: starting the Postfix mail system',
      alreadyApplied: false,
      finishedAt: new Date().toISOString(),
    };
  };
}
