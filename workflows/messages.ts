import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** The contract that users' scripts, the Temporal UI and the CLI depend on. Names here are never typed twice. */
export const TASK_QUEUE = 'mailmend';
export const WORKFLOW_TYPE = 'mailOutageIncident';

/** One open incident per mail server: `incident-<serverId>`. */
export function incidentWorkflowId(serverId: string): string {
  return `incident-${serverId}`;
}

export const PHASES = [
  'assessment',
  'notification',
  'troubleshooting',
  'awaiting-approval',
  'remediation',
  'verification',
  'resolution-notice',
  'review',
  'closed',
  'false-alarm',
  'escalated',
] as const;
export type Phase = (typeof PHASES)[number];
export type Outcome = Extract<Phase, 'closed' | 'false-alarm' | 'escalated'>;

export type Severity = 'critical' | 'major' | 'minor' | 'none';
/** `delivery-delayed`: the services answer, but outbound mail waits in the queue. */
/** `unknown`: the assessment could not finish, so nobody can yet say who is affected. */
export type Scope = 'all-users' | 'one-protocol' | 'single-user' | 'delivery-delayed' | 'unknown' | 'none';
export type AudienceName = 'itTeam' | 'management' | 'users';
export const AUDIENCES: readonly AudienceName[] = ['itTeam', 'management', 'users'];

/** An alert as mailmend understands it, whatever monitoring system sent it. */
export interface AlertPayload {
  source: 'alertmanager' | 'grafana' | 'cli';
  status: 'firing' | 'resolved';
  alertName: string;
  fingerprint?: string;
  summary?: string;
  /** Set when the alert names one mailbox, which narrows the scope to a single user. */
  mailbox?: string;
  labels: Record<string, string>;
  startsAt?: string;
  receivedAt: string;
  /** How many identical alerts this one stands for: the webhook collapses repeats into the next alert it sends. */
  occurrences?: number;
}

/** Alerts for one server, in the order the sender listed them; the webhook sends a batch as one signal. */
export interface AlertBatch {
  alerts: AlertPayload[];
}

/** What the incident keeps of one alert (source, fingerprint or name): counts and times, never every copy. */
export interface AlertRecord {
  source: AlertPayload['source'];
  alertName: string;
  fingerprint?: string;
  /** The latest status seen. */
  status: AlertPayload['status'];
  /** Occurrences seen, repeats and collapsed copies included. */
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  startsAt?: string;
  summary?: string;
  mailbox?: string;
  labels: Record<string, string>;
}

export interface ApproveSignal {
  by: string;
  comment?: string;
  /** Approve another offered hypothesis's action instead of the recommended one. */
  actionId?: string;
}
export interface RejectSignal {
  by: string;
  reason: string;
}
export interface ConfirmSignal {
  by: string;
}
export interface NoteSignal {
  by: string;
  text: string;
}
export interface CloseSignal {
  by: string;
  /** Why a person ends the procedure, e.g. "fixed by hand" or "planned maintenance". */
  reason: string;
}
export interface SetEtaSignal {
  by: string;
  /** ISO-8601 timestamp of the estimated repair. */
  eta: string;
}

/** What an accepted decision did, for the person who sent it. */
export type DecisionReceipt =
  | { decision: 'approved'; by: string; actionId: string }
  /** M-of-N: this approval counted, and the action waits for more distinct approvers. */
  | { decision: 'approval-recorded'; by: string; actionId: string; approvals: string[]; required: number }
  | { decision: 'rejected'; by: string; rejections: number; maxRejections: number }
  | { decision: 'confirmed'; by: string; confirmations: number; required: number }
  | { decision: 'eta-set'; by: string; eta: string }
  | { decision: 'closed'; by: string; reason: string };

export const alertSignal = defineSignal<[AlertPayload]>('alert');
export const alertsSignal = defineSignal<[AlertBatch]>('alerts');
export const approveSignal = defineSignal<[ApproveSignal]>('approve');
export const rejectSignal = defineSignal<[RejectSignal]>('reject');
export const confirmSignal = defineSignal<[ConfirmSignal]>('confirm');
export const noteSignal = defineSignal<[NoteSignal]>('note');
export const setEtaSignal = defineSignal<[SetEtaSignal]>('setEta');
export const stateQuery = defineQuery<IncidentState>('state');

// The same names as the signals: the UI's Send Signal dialog keeps working, while the CLI and typed client learn the
// outcome, since an Update's validator refuses bad input and says why.
export const approveUpdate = defineUpdate<DecisionReceipt, [ApproveSignal]>('approve');
export const rejectUpdate = defineUpdate<DecisionReceipt, [RejectSignal]>('reject');
export const confirmUpdate = defineUpdate<DecisionReceipt, [ConfirmSignal]>('confirm');
export const setEtaUpdate = defineUpdate<DecisionReceipt, [SetEtaSignal]>('setEta');
/** Update only: ending an incident is for approvers, and they must learn whether it was accepted. */
export const closeUpdate = defineUpdate<DecisionReceipt, [CloseSignal]>('close');

/** Durations are milliseconds: the config loader turns `30m` into numbers before they reach the workflow. */
export interface IncidentPolicies {
  updateIntervalMs: number;
  approvalTimeoutMs: number;
  confirmationTimeoutMs: number;
  confirmationsRequired: number;
  responseTimeTargetMs: number;
  maxVerificationAttempts: number;
  maxRejections: number;
  initialEtaMs?: number;
  /** How long verification keeps probing a just-fixed server before calling the fix failed. */
  verificationSettleMs?: number;
  /** Distinct approvers each risk level needs before its action runs; absent means one for every level. */
  approvalsRequired?: Record<Risk, number>;
  /** A run continues as new once its history holds this many events; Temporal refuses signals after 10,000. */
  historyEventLimit?: number;
  /** Step 1's hard deadline: past it the incident goes on as an outage of unknown scope. Absent in old histories. */
  assessmentDeadlineMs?: number;
}

/** Holds only references and policy, never secrets: channels are named, credentials are resolved by activities. */
export interface IncidentInput {
  serverId: string;
  policies: IncidentPolicies;
  approvers: string[];
  /** Channel names per audience; the worker resolves each name to its transport. */
  audiences: Record<AudienceName, string[]>;
  /** Set when a run continues as new: where the procedure stood, so the next run resumes there. */
  carried?: CarriedIncident;
}

/** An approver's decision on the pending fix. */
export type Decision =
  { kind: 'approved'; by: string; actionId?: string } | { kind: 'rejected'; by: string; reason: string };

/** A wait the procedure can be resumed at in a new run. */
export type ResumePoint = 'awaiting-approval' | 'awaiting-confirmations';

/** Everything a run hands to the next: the state people see, and the clocks of the waits in progress. */
export interface CarriedIncident {
  state: IncidentState;
  milestones: IncidentMilestones;
  resumeAt: ResumePoint;
  /** Runs so far, this one included. */
  runs: number;
  /** When users get their next update. */
  nextUserUpdateAt: string;
  etaChanged: boolean;
  /** When the wait in progress (approval or confirmations) times out next, and how often it has already. */
  waitDeadlineAt: string;
  waitTimeouts: number;
  /** A decision taken while the run was handing over, which the next run acts on at once. */
  decision?: Decision;
  /** A close accepted while the run was handing over, which the next run carries out at once. */
  closeRequest?: CloseSignal;
  /** The last message each audience got, so the next run neither repeats it nor misses an ETA change. */
  lastSent?: Partial<Record<AudienceName, SentNotification>>;
  /** Firing alerts that still await their re-probe, and when the rate limit next allows one. */
  reprobe?: { firingAlerts: number; nextAt: string };
}

/** A notification as it went to one audience, and when. */
export interface SentNotification {
  at: string;
  message: NotificationMessage;
}

export interface IncidentMilestones {
  detectedAt?: string;
  openedAt: string;
  acknowledgedAt?: string;
  approvalRequestedAt?: string;
  approvedAt?: string;
  resolvedAt?: string;
}

export interface CheckResult {
  ok: boolean;
  latencyMs: number;
  /** What was seen on the wire, e.g. the banner, or the error code. */
  detail: string;
  errorCode?: string;
}

/** A certificate a mail service presented, as the TLS probe read it. */
export interface CertificateSummary {
  service: 'smtp' | 'imap';
  subject: string;
  issuer: string;
  /** ISO-8601 end of validity. */
  validTo: string;
  daysLeft: number;
}

/** A check the probes could not make, and why: a hung SSH handshake, a probe past the assessment's deadline. */
export interface UncheckedProbe {
  /** The check's name as the timeline writes it: `deferred-queue`, `imap-login`, `smtp-delivery`, `smtp-tls`... */
  check: string;
  reason: string;
}

export interface ProbeReport {
  serverId: string;
  checkedAt: string;
  /** Checks that were due but gave no answer; what they would have told is unknown, neither passed nor failed. */
  unchecked?: UncheckedProbe[];
  /** How long the whole assessment took, every probe in parallel. */
  elapsedMs?: number;
  tcpSmtp: CheckResult;
  smtp: CheckResult;
  imap: CheckResult;
  /** Present when the server has a canary mailbox: can it log in, SELECT INBOX and find the token `smtpDelivery` sent? */
  imapLogin?: CheckResult;
  /** Present when mailmend can reach the host over SSH: is the deferred queue under the threshold? */
  deferredQueue?: CheckResult;
  /** Present when the server has a canary: MAIL FROM, RCPT TO, DATA to the canary, answered by 250 with a queue id. */
  smtpDelivery?: CheckResult;
  /** Present when SMTP offers or is configured to require STARTTLS: handshake, validity, expiry and name. */
  smtpTls?: CheckResult;
  /** Present when IMAP is configured for TLS: handshake, validity, expiry and name. */
  imapTls?: CheckResult;
  /** Certificates that are valid now but expire within the warning window: a warning, not an outage. */
  certificateWarnings?: CertificateSummary[];
}

export interface RoundTripResult {
  ok: boolean;
  /** No canary mailbox is configured, so the round trip could not be tried. */
  skipped?: boolean;
  token: string;
  roundTripMs?: number;
  detail: string;
}

export type Risk = 'low' | 'medium' | 'high';

interface RecommendedRemediation {
  actionId: string;
  description: string;
  risk: Risk;
  rollback: string;
}

/** Why mailmend cannot act itself, and what people should run by hand; mailmend never runs these. */
export interface Handover {
  reason: string;
  /** Shell-quoted command lines, in order. */
  suggestedCommands: string[];
}

/** One possible cause, ranked against the others; the diagnosis's root cause is the first of the list. */
export interface Hypothesis {
  cause: string;
  /** The failure class, e.g. `bind-conflict`, `config-error`, `not-running`. */
  failureClass: string;
  /** The signature or rule that raised it, e.g. `postfix-bind-conflict`. */
  source: string;
  evidenceFor: string[];
  evidenceAgainst: string[];
  /** 0 to 1: how strongly the evidence supports it. */
  confidence: number;
  /** A catalog action id, or NO_CATALOG_ACTION with a handover. */
  actionId: string;
  handover?: Handover;
}

export interface Diagnosis {
  rootCause: string;
  evidence: string[];
  /** What would keep this cause from recurring. */
  prevention?: string[];
  recommendation: RecommendedRemediation;
  /** Set when the recommendation is to hand over although the evidence names a fix mailmend cannot run. */
  handover?: Handover;
  /** Every cause considered, best first; absent in diagnoses recorded before ranking existed. */
  hypotheses?: Hypothesis[];
  /** Each config file that differs from its known-good copy or backup, with the whole diff the evidence quotes from. */
  configDiffs?: ConfigDiff[];
  diagnosedAt: string;
}

export interface ConfigDiff {
  file: string;
  comparedWith: string;
  /** Unified diff, at most a few dozen lines, so an approver sees what a restore would undo. */
  diff: string;
}

/** One command run on the mail host, as the timeline shows it. */
export interface CommandRecord {
  /** The argv as a shell-quoted line. */
  command: string;
  exitCode: number;
  /** Trimmed output. */
  output: string;
}

export interface RemediationResult {
  actionId: string;
  exitCode: number;
  output: string;
  alreadyApplied: boolean;
  /** What the action was about to change, recorded before it ran. */
  snapshot?: CommandRecord[];
  commands?: CommandRecord[];
  finishedAt: string;
}

/** What an approver weighs: a ranked cause and the action that would fix it. */
export interface HypothesisSummary {
  cause: string;
  confidence: number;
  actionId: string;
}

export interface PendingApproval {
  actionId: string;
  description: string;
  risk: Risk;
  since: string;
  approvers: string[];
  escalatedAt?: string;
  /** The top hypotheses, best first, so an approver can choose among them. */
  hypotheses?: HypothesisSummary[];
  /** Distinct approvers the action needs; absent in incidents started before M-of-N approvals. */
  required?: number;
  /** Who approved the recommended action so far. */
  approvedBy?: string[];
  /** Other offered actions that an approver asked for instead: each needs `required` approvals from others. */
  requests?: AlternativeRequest[];
  /** The checks that failed in the probes the diagnosis was built on, to tell whether a later re-probe differs. */
  failingChecks?: string[];
}

/** An approver's request for another offered action; their own approval does not count toward it. */
export interface AlternativeRequest {
  actionId: string;
  requestedBy: string;
  approvedBy: string[];
}

export interface NotificationRecord {
  channel: string;
  audience: AudienceName;
  kind: NotificationKind;
  sentAt: string;
  ok: boolean;
  error?: string;
}

/** `closed`: a person ended the procedure with `incidents close`. */
export type NotificationKind =
  'outage' | 'update' | 'escalation' | 'resolved' | 'false-alarm' | 'reminder' | 'certificate-expiry' | 'closed';

/** The one thing the IT team must do now, if anything; the first outage notice asks for nothing. */
export type ItAction =
  | { kind: 'approve'; actionId: string; description: string; risk: Risk; required: number; approvedBy: string[] }
  | { kind: 'confirm'; required: number; confirmedBy: string[] };

/** Why people took over, in terms every audience can be told; `reason` keeps the technical detail for the IT team. */
export type EscalationCause =
  | 'approval-timeout'
  | 'rejected'
  | 'verification-failed'
  | 'no-automatic-fix'
  | 'remediation-unavailable'
  /** A fix that is not idempotent stopped part way (its worker was lost): what it left on the host is for a person. */
  | 'remediation-interrupted'
  | 'host-unreachable'
  /** Some checks could not be made (a host that hangs), and the ones that could pass: a person must look. */
  | 'assessment-incomplete'
  /** A notice could not be delivered on one of its channels: people must reach that audience some other way. */
  | 'notification-failed'
  | 'unexpected-failure';

export interface TimelineEntry {
  at: string;
  phase: Phase;
  actor: string;
  event: string;
  outcome: string;
}

interface Confirmation {
  by: string;
  at: string;
}

export interface IncidentState {
  incidentId: string;
  serverId: string;
  phase: Phase;
  outcome?: Outcome;
  outcomeReason?: string;
  severity: Severity;
  scope: Scope;
  openedAt: string;
  assessment?: ProbeReport;
  diagnosis?: Diagnosis;
  pendingApproval?: PendingApproval;
  approvedBy?: string;
  remediations: RemediationResult[];
  verification?: ProbeReport;
  roundTrip?: RoundTripResult;
  eta?: string;
  confirmations: Confirmation[];
  confirmationsRequired: number;
  rejections: number;
  verificationAttempts: number;
  /** One record per distinct alert, at most a few hundred; `alertsReceived` counts every occurrence. */
  alerts: AlertRecord[];
  alertsReceived: number;
  /** Occurrences of alerts beyond the records kept. */
  alertsUntracked?: number;
  /** The latest notifications; `notificationsOmitted` counts older ones dropped to keep the state bounded. */
  notifications: NotificationRecord[];
  notificationsOmitted?: number;
  /** The first entries and the latest; `timelineOmitted` counts those dropped between them. */
  timeline: TimelineEntry[];
  timelineOmitted?: number;
  /** Runs of the workflow so far: a long incident continues as new to keep its history bounded. */
  runs?: number;
  report?: ReportLocation;
  /** The review when its report could not be written, so the incident's result holds it; its state is this one. */
  unwrittenReview?: Pick<IncidentReport, 'responseTimes' | 'review'>;
}

export interface ReportLocation {
  markdownPath: string;
  jsonPath: string;
}

/** What every audience is told; activities render it per audience, so no text template lives in workflow code. */
export interface NotificationMessage {
  kind: NotificationKind;
  incidentId: string;
  serverId: string;
  severity: Severity;
  scope: Scope;
  phase: Phase;
  openedAt: string;
  eta?: string;
  rootCause?: string;
  actionsTaken?: string[];
  prevention?: string[];
  reason?: string;
  /** For an approval request: the ranked causes the approver chooses among. */
  hypotheses?: HypothesisSummary[];
  /** For a certificate-expiry warning: which certificates expire, and when. */
  certificates?: CertificateSummary[];
  /** What the IT team must do now; absent when nothing is asked of them. */
  actionNeeded?: ItAction;
  /** The automated checks passed after the fix: mail works again while people confirm. */
  checksPassed?: boolean;
  /** The root cause's failure class (e.g. `not-running`), which templates word for audiences without internals. */
  causeClass?: string;
  /** For an escalation: why, as a cause every audience can be told. */
  escalation?: EscalationCause;
  /** The ETA differs from the one this audience was last told. */
  etaChanged?: boolean;
  /** For `closed`: who ended the procedure. */
  closedBy?: string;
  /** For an escalation after step 1: the checks that could not be made, and why. */
  unchecked?: UncheckedProbe[];
  /** For a `notification-failed` escalation: the notices that did not get through. */
  undelivered?: UndeliveredNotice[];
}

/** A notice one channel could not deliver, for the IT team to pass on some other way. */
export interface UndeliveredNotice {
  audience: AudienceName;
  channel: string;
  kind: NotificationKind;
  /** The failure type, e.g. `NotificationRejected`. */
  failure: string;
}

export interface IncidentStepContext {
  incidentId: string;
  serverId: string;
  step: Phase;
}

export interface ResponseTimes {
  detectMs?: number;
  acknowledgeMs?: number;
  approveMs?: number;
  resolveMs?: number;
  targetMs: number;
  withinTarget: boolean;
}

/** One recommendation of the review; `diagnosis` quotes the diagnosis rule's own advice. */
export type PreventionPoint =
  | { kind: 'diagnosis'; text: string }
  | { kind: 'rehearse-fix'; fix: string }
  | { kind: 'shorten-approval' }
  | { kind: 'tune-alert' }
  | { kind: 'review-escalation'; reason: string };

export interface IncidentReport {
  state: IncidentState;
  responseTimes: ResponseTimes;
  review: {
    rootCause: string;
    responseTimeSufficient: string;
    /** The same points in English, as reports written before templates read them. */
    prevention: string[];
    /** What would prevent a repeat, as facts the report template words in the team's language. */
    preventionPoints?: PreventionPoint[];
  };
}

/** A diagnosis recommends this when no catalog action fits the evidence: people must take over. */
export const NO_CATALOG_ACTION = 'none';
