import { ApplicationFailure } from '@temporalio/common';
import { ImapFlow } from 'imapflow';
import nodemailer, { type Transporter } from 'nodemailer';
import type { SecretResolver } from '../config/secrets';
import type { ServerConfig } from '../config/schema';
import type { MailHostAccess } from '../activities/mail-host';
import { HostKeyMismatchError, withSshSession, type SshOptions, type SshTarget } from '../activities/ssh';
import { FailureType } from '../workflows/failure-types';

const DEFAULT_SSH_OPTIONS: SshOptions = {
  readyTimeoutMs: 10_000,
  keepaliveIntervalMs: 5_000,
  commandTimeoutMs: 60_000,
};

/** Builds the mail-host clients from the config, resolving the SSH key and canary password once, here. */
export function createMailHostAccess(
  secrets: SecretResolver,
  sshOptions: SshOptions = DEFAULT_SSH_OPTIONS,
): MailHostAccess {
  return {
    async withSsh(server, use) {
      const target = sshTargetOf(server, secrets);
      try {
        return await withSshSession(target, sshOptions, use);
      } catch (error) {
        throw error instanceof HostKeyMismatchError ? hostKeyMismatchFailure(error) : error;
      }
    },
    canaryImap: (server) => canaryImapClient(server, secrets),
    serverSmtp: serverSmtpTransport,
  };
}

function sshTargetOf(server: ServerConfig, secrets: SecretResolver): SshTarget {
  const { ssh } = server;
  if (!ssh) {
    throw ApplicationFailure.create({
      type: FailureType.RemediationUnavailable,
      nonRetryable: true,
      message: `server "${server.id}" has no SSH access configured, so mailmend cannot inspect it or run fixes on it`,
    });
  }
  return {
    host: ssh.host,
    port: ssh.port,
    user: ssh.user,
    hostKey: ssh.hostKey,
    privateKey: secrets.resolve(ssh.privateKey),
  };
}

/** A changed key may mean a rebuilt host or an attacker in the middle: no retry, people decide. */
function hostKeyMismatchFailure(error: HostKeyMismatchError): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.HostKeyMismatch,
    nonRetryable: true,
    message: error.message,
    cause: error,
  });
}

function canaryImapClient(server: ServerConfig, secrets: SecretResolver): ImapFlow | undefined {
  if (!server.canary) return undefined;
  return new ImapFlow({
    host: server.imap.host,
    port: server.imap.port,
    secure: server.imap.tls,
    auth: { user: server.canary.imapUser, pass: secrets.resolve(server.canary.imapPassword) },
    logger: false,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
}

function serverSmtpTransport(server: ServerConfig): Transporter {
  return nodemailer.createTransport({
    host: server.smtp.host,
    port: server.smtp.port,
    secure: false,
    // The check is whether mail flows, not whether the server's certificate is publicly trusted.
    tls: { rejectUnauthorized: false },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
}
