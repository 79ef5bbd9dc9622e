import type {
  AudienceName,
  Diagnosis,
  IncidentReport,
  IncidentStepContext,
  NotificationMessage,
  NotificationRecord,
  ProbeReport,
  RemediationResult,
  ReportLocation,
  RoundTripResult,
} from './messages';

export interface ProbeServerInput {
  context: IncidentStepContext;
  /** Report by then with what has answered; what has not becomes `unchecked`. Absent: the activity's own default. */
  deadlineMs?: number;
}

export interface DiagnoseOutageInput {
  context: IncidentStepContext;
  probes: ProbeReport;
}

export interface VerifyRoundTripInput {
  context: IncidentStepContext;
}

export interface SendNotificationInput {
  context: IncidentStepContext;
  audience: AudienceName;
  channel: string;
  message: NotificationMessage;
}

export interface RunRemediationInput {
  context: IncidentStepContext;
  actionId: string;
}

export interface WriteIncidentReportInput {
  context: IncidentStepContext;
  report: IncidentReport;
}

/**
 * What the workflow asks of the outside world. The workflow owns this contract and `activities/` implements it, so
 * workflow code never imports activity code, not even its types.
 */
export interface MailmendActivities {
  probeServer(input: ProbeServerInput): Promise<ProbeReport>;
  diagnoseOutage(input: DiagnoseOutageInput): Promise<Diagnosis>;
  verifyRoundTrip(input: VerifyRoundTripInput): Promise<RoundTripResult>;
  sendNotification(input: SendNotificationInput): Promise<NotificationRecord>;
  runRemediation(input: RunRemediationInput): Promise<RemediationResult>;
  writeIncidentReport(input: WriteIncidentReportInput): Promise<ReportLocation>;
}
