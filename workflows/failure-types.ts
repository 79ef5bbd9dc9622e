/** Every failure type mailmend raises. Workflows branch on these, never on messages. */
export const FailureType = {
  UnknownServer: 'UnknownServer',
  UnknownRemediationAction: 'UnknownRemediationAction',
  RemediationUnavailable: 'RemediationUnavailable',
  RemediationFailed: 'RemediationFailed',
  /** A retry of an action that is not idempotent, refused because the earlier attempt may have run it. */
  RemediationNotRetried: 'RemediationNotRetried',
  HostKeyMismatch: 'HostKeyMismatch',
  UnknownNotificationChannel: 'UnknownNotificationChannel',
  NotificationRejected: 'NotificationRejected',
} as const;
export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];
