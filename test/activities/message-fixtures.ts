import type { NotificationKind, NotificationMessage } from '../../workflows/messages';

/** The least the workflow sends: no ETA, no diagnosis, nothing asked of anyone. */
export function minimalMessage(
  kind: NotificationKind,
  overrides: Partial<NotificationMessage> = {},
): NotificationMessage {
  return {
    kind,
    incidentId: 'incident-mx1-7f3a',
    serverId: 'mx1',
    severity: 'critical',
    scope: 'all-users',
    phase: 'notification',
    openedAt: '2026-11-29T11:26:00.000Z',
    ...overrides,
  };
}

/** Every optional field set, with internals that must never reach users or management. */
export function fullMessage(kind: NotificationKind, overrides: Partial<NotificationMessage> = {}): NotificationMessage {
  return minimalMessage(kind, {
    phase: 'awaiting-approval',
    eta: '2026-11-29T13:00:00.000Z',
    etaChanged: true,
    checksPassed: false,
    rootCause: 'no master process, while its configuration passes postfix check',
    causeClass: 'not-running',
    reason: 'qmgr exited with status 1 after SIGSEGV',
    escalation: 'approval-timeout',
    closedBy: 'alice',
    unchecked: [{ check: 'deferred-queue', reason: 'SSH to 10.0.0.5:22 did not finish its handshake within 10 s' }],
    undelivered: [{ audience: 'users', channel: 'users-relay', kind: 'outage', failure: 'NotificationRejected' }],
    actionsTaken: ['postfix-start (exit 0)'],
    prevention: ['Monitor the postfix master process with systemd Restart=on-failure'],
    hypotheses: [
      { cause: 'Postfix is not running', confidence: 0.55, actionId: 'postfix-start' },
      { cause: 'Postfix cannot write its queue', confidence: 0.3, actionId: 'postfix-set-permissions' },
    ],
    certificates: [
      {
        service: 'smtp',
        subject: 'CN=mx1.example.org',
        issuer: "CN=R11, O=Let's Encrypt",
        validTo: '2026-12-04T12:00:00.000Z',
        daysLeft: 5,
      },
    ],
    actionNeeded: {
      kind: 'approve',
      actionId: 'postfix-start',
      description: 'start postfix',
      risk: 'high',
      required: 2,
      approvedBy: ['alice'],
    },
    ...overrides,
  });
}

/** Words only the IT team may read: the server and incident names, the diagnosis and the catalog's action ids. */
export const INTERNALS = [
  'mx1',
  'incident-mx1-7f3a',
  'mailmend',
  'postfix',
  'qmgr',
  'master process',
  'SIGSEGV',
  'postfix-start',
  'postfix-set-permissions',
  'CN=',
  'users-relay',
  'NotificationRejected',
  'handshake',
];
