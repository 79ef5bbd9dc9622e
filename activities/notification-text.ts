import type {
  AudienceName,
  CertificateSummary,
  HypothesisSummary,
  NotificationKind,
  NotificationMessage,
  Scope,
} from '../workflows/messages';

interface RenderedNotification {
  subject: string;
  text: string;
}

const KIND_IN_WORDS: Record<NotificationKind, string> = {
  outage: 'outage',
  update: 'update',
  escalation: 'escalation',
  resolved: 'resolved',
  'false-alarm': 'false alarm',
  reminder: 'reminder',
  'certificate-expiry': 'certificate expiry',
};

const ETA_UNKNOWN = 'We will give an estimate as soon as we have one.';

/**
 * Words one incident message for one audience: plain language for users, the technical picture for the IT team,
 * business impact for management.
 *
 * @example renderNotification('users', message).subject // '[mailmend] mx1 outage: email is disrupted'
 */
export function renderNotification(audience: AudienceName, message: NotificationMessage): RenderedNotification {
  switch (audience) {
    case 'users':
      return forUsers(message);
    case 'itTeam':
      return forItTeam(message);
    case 'management':
      return forManagement(message);
  }
}

function subject(message: NotificationMessage, headline: string): string {
  return `[mailmend] ${message.serverId} ${KIND_IN_WORDS[message.kind]}: ${headline}`;
}

/** UTC in a fixed format, so the text does not depend on the locale of the worker that rendered it. */
function readableTime(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : time.toUTCString().replace('GMT', 'UTC');
}

function paragraphs(...parts: (string | false | undefined)[]): string {
  return `${parts.filter((part): part is string => typeof part === 'string' && part.length > 0).join('\n\n')}\n`;
}

function bulletList(title: string, items: readonly string[] | undefined): string | undefined {
  if (!items || items.length === 0) return undefined;
  return `${title}\n${items.map((item) => `- ${item}`).join('\n')}`;
}

const USER_IMPACT: Record<Scope, string> = {
  'all-users': 'Email is not working for anyone at the moment: you may not be able to send or receive messages.',
  'one-protocol': 'Part of the email service is not working: sending or receiving messages may fail or be delayed.',
  'single-user': 'One mailbox is affected. Most people will not notice anything.',
  none: 'We do not expect you to notice any problem with email.',
};

function userEta(message: NotificationMessage): string {
  return message.eta ? `We expect email to work normally again by ${readableTime(message.eta)}.` : ETA_UNKNOWN;
}

const CERTIFICATE_RENEWAL_FOR_USERS = [
  'Email is working normally.',
  'The IT team is renewing a security certificate of the mail server. You do not need to do anything.',
];

function forUsers(message: NotificationMessage): RenderedNotification {
  const impact = USER_IMPACT[message.scope];
  switch (message.kind) {
    case 'outage':
      return {
        subject: subject(message, 'email is disrupted'),
        text: paragraphs(
          'We are aware of a problem with email and are working on it.',
          impact,
          userEta(message),
          'There is no need to report the problem again. We will tell you when it is fixed.',
        ),
      };
    case 'update':
    case 'reminder':
      return {
        subject: subject(message, 'email is still disrupted'),
        text: paragraphs(
          'The problem with email is not fixed yet; we are still working on it.',
          impact,
          userEta(message),
        ),
      };
    case 'escalation':
      return {
        subject: subject(message, 'the repair is taking longer'),
        text: paragraphs(
          'Fixing the problem with email is taking longer than we hoped, so more people are now working on it.',
          impact,
          userEta(message),
        ),
      };
    case 'resolved':
      return {
        subject: subject(message, 'email is working again'),
        text: paragraphs(
          `The problem with email that started at ${readableTime(message.openedAt)} is fixed and email works normally again.`,
          'Messages that were held up should arrive shortly. If something you sent is missing, please send it again.',
          message.prevention &&
            message.prevention.length > 0 &&
            'We have taken steps so that this does not happen again.',
          'Thank you for your patience.',
        ),
      };
    case 'false-alarm':
      return {
        subject: subject(message, 'email was not affected'),
        text: paragraphs(
          'Earlier we told you about a possible problem with email. It turned out that email was working normally.',
          'You do not need to do anything.',
        ),
      };
    case 'certificate-expiry':
      return { subject: subject(message, 'nothing for you to do'), text: paragraphs(...CERTIFICATE_RENEWAL_FOR_USERS) };
  }
}

function technicalFacts(message: NotificationMessage): string {
  const facts: [string, string][] = [
    ['Incident', message.incidentId],
    ['Server', message.serverId],
    ['Severity', message.severity],
    ['Scope', message.scope],
    ['Phase', message.phase],
    ['Opened', message.openedAt],
    ['ETA', message.eta ?? 'none yet'],
    ['Root cause', message.rootCause ?? 'not yet known'],
  ];
  if (message.reason) facts.push(['Reason', message.reason]);
  return facts.map(([label, value]) => `${label}: ${value}`).join('\n');
}

const IT_HEADLINE: Record<NotificationKind, string> = {
  outage: 'mail service down',
  update: 'still open',
  escalation: 'needs attention',
  resolved: 'verified fixed',
  'false-alarm': 'checks pass, no outage',
  reminder: 'still open',
  'certificate-expiry': 'certificate expires soon',
};

const IT_SUMMARY: Record<NotificationKind, (serverId: string) => string> = {
  outage: (serverId) => `Mail service on ${serverId} failed its checks.`,
  update: (serverId) => `The incident on ${serverId} is still open.`,
  escalation: (serverId) => `The incident on ${serverId} was escalated and needs a person.`,
  resolved: (serverId) => `Resolved: mail service on ${serverId} works again.`,
  'false-alarm': (serverId) => `False alarm: ${serverId} passed its checks, no outage.`,
  reminder: (serverId) => `Reminder: the incident on ${serverId} is still open.`,
  'certificate-expiry': (serverId) =>
    `Mail on ${serverId} works, but a certificate it presents expires soon: renew it before then.`,
};

function daysLeft(days: number): string {
  if (days <= 0) return 'less than a day left';
  return days === 1 ? '1 day left' : `${days} days left`;
}

/** One line per certificate: which service presents it, whose it is, and when it stops working. */
function certificateLines(certificates: readonly CertificateSummary[] | undefined): string[] {
  return (certificates ?? []).map(
    (certificate) =>
      `${certificate.service.toUpperCase()}: ${certificate.subject} (issued by ${certificate.issuer}) expires ` +
      `${readableTime(certificate.validTo)}, ${daysLeft(certificate.daysLeft)}`,
  );
}

/** The approver picks one of these; each line carries the command that approves its action instead. */
function hypothesisLines(serverId: string, hypotheses: readonly HypothesisSummary[] | undefined): string[] {
  return (hypotheses ?? []).map(
    (hypothesis) =>
      `${hypothesis.cause} (confidence ${Math.round(hypothesis.confidence * 100)}%, action ` +
      `${hypothesis.actionId}): mailmend incidents approve ${serverId} --by <name> --action ${hypothesis.actionId}`,
  );
}

function forItTeam(message: NotificationMessage): RenderedNotification {
  if (message.kind === 'certificate-expiry') return certificateWarningForItTeam(message);
  const open = message.kind !== 'resolved' && message.kind !== 'false-alarm';
  return {
    subject: subject(
      message,
      `${IT_HEADLINE[message.kind]} (${message.severity}, ${message.scope}) ${message.incidentId}`,
    ),
    text: paragraphs(
      IT_SUMMARY[message.kind](message.serverId),
      technicalFacts(message),
      bulletList('Actions taken:', message.actionsTaken),
      bulletList('Prevention:', message.prevention),
      open && `To approve the proposed fix: mailmend incidents approve ${message.serverId} --by <name>`,
      open &&
        bulletList(
          "Ranked causes, most likely first; to approve another one's fix instead, use its command:",
          hypothesisLines(message.serverId, message.hypotheses),
        ),
    ),
  };
}

function certificateWarningForItTeam(message: NotificationMessage): RenderedNotification {
  const soonest = Math.min(...(message.certificates ?? []).map((certificate) => certificate.daysLeft));
  const headline = Number.isFinite(soonest)
    ? `${IT_HEADLINE[message.kind]} (${daysLeft(soonest)})`
    : IT_HEADLINE[message.kind];
  return {
    subject: subject(message, `${headline} ${message.incidentId}`),
    text: paragraphs(
      IT_SUMMARY[message.kind](message.serverId),
      bulletList('Certificates:', certificateLines(message.certificates)),
      `Incident: ${message.incidentId}\nServer: ${message.serverId}\nChecked: ${message.openedAt}`,
      'Once the certificate expires, mail clients refuse the connection and mail stops for everyone.',
    ),
  };
}

const BUSINESS_IMPACT: Record<Scope, string> = {
  'all-users': 'Nobody in the organisation can reliably send or receive email.',
  'one-protocol': 'Part of the email service is down: sending or receiving is failing or delayed for staff.',
  'single-user': 'One mailbox is affected; the rest of the organisation is working normally.',
  none: 'No business impact is expected.',
};

function businessFacts(message: NotificationMessage): string {
  return [
    `Business impact: ${BUSINESS_IMPACT[message.scope]}`,
    `Severity: ${message.severity}`,
    `Expected repair: ${message.eta ? readableTime(message.eta) : 'no estimate yet; we will give one as soon as we have one'}`,
  ].join('\n');
}

function forManagement(message: NotificationMessage): RenderedNotification {
  switch (message.kind) {
    case 'outage':
    case 'update':
    case 'reminder':
      return {
        subject: subject(message, `${message.severity} email disruption`),
        text: paragraphs(
          message.kind === 'outage'
            ? `Email service on ${message.serverId} is disrupted. The IT team is working on it.`
            : `Email service on ${message.serverId} is still disrupted. The IT team is working on it.`,
          businessFacts(message),
        ),
      };
    case 'escalation':
      return {
        subject: subject(message, `${message.severity} email disruption escalated`),
        text: paragraphs(
          `The email disruption on ${message.serverId} has been escalated.`,
          `Escalated because: ${message.reason ?? 'the procedure could not continue on its own'}`,
          businessFacts(message),
        ),
      };
    case 'resolved':
      return {
        subject: subject(message, 'email service restored'),
        text: paragraphs(
          `Email service on ${message.serverId} is restored. The disruption started at ${readableTime(message.openedAt)}.`,
          `Severity: ${message.severity}\nImpact while it lasted: ${BUSINESS_IMPACT[message.scope]}`,
          `Cause: ${message.rootCause ?? 'not determined'}`,
          bulletList('Actions taken:', message.actionsTaken),
          bulletList('Prevention:', message.prevention),
        ),
      };
    case 'certificate-expiry':
      return {
        subject: subject(message, 'certificate renewal due'),
        text: paragraphs(
          `Email on ${message.serverId} works normally. A security certificate of the mail server expires soon, and the IT team has been asked to renew it before then.`,
          bulletList('Expiring:', certificateLines(message.certificates)),
          'No business impact so far; if it is not renewed in time, nobody will be able to send or receive email.',
        ),
      };
    case 'false-alarm':
      return {
        subject: subject(message, 'no disruption after all'),
        text: paragraphs(
          `An alert suggested email on ${message.serverId} was disrupted, but the checks found it working. No business impact.`,
          message.reason && `Details: ${message.reason}`,
        ),
      };
  }
}
