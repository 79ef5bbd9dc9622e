/** Every failure type mailmend raises. Workflows branch on these, never on messages. */
export const FailureType = {
  UnknownServer: 'UnknownServer',
  UnknownRemediationAction: 'UnknownRemediationAction',
  RemediationUnavailable: 'RemediationUnavailable',
  RemediationFailed: 'RemediationFailed',
  /** A retry of an action that is not idempotent, refused because the earlier attempt may have run it. */
  RemediationNotRetried: 'RemediationNotRetried',
  HostKeyMismatch: 'HostKeyMismatch',
  /** The SSH port took the connection but sshd never finished its handshake: nothing ran. The error's class name. */
  SshHandshakeTimeout: 'SshHandshakeTimeoutError',
  UnknownNotificationChannel: 'UnknownNotificationChannel',
  NotificationRejected: 'NotificationRejected',
} as const;
export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];
