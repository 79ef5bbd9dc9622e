import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { ImapFlow } from 'imapflow';
import nodemailer, { type Transporter } from 'nodemailer';
import type { SecretResolver } from '../config/secrets';
import type { ServerConfig } from '../config/schema';
import { HOST_COMMAND_TIMEOUTS } from '../activities/host-command-timeouts';
import type { CertificateTrust, MailHostAccess } from '../activities/mail-host';
import { HostKeyMismatchError, withSshSession, type SshOptions, type SshTarget } from '../activities/ssh';
import type { TlsTrust } from '../activities/tls-certificate';
import { FailureType } from '../workflows/failure-types';

const DEFAULT_SSH_OPTIONS: SshOptions = {
  // A host whose sshd takes the connection and then says nothing is reported after this, not waited on.
  readyTimeoutMs: 10_000,
  keepaliveIntervalMs: 5_000,
  // Every activity command names its own limit; this only bounds one that forgot to.
  commandTimeoutMs: HOST_COMMAND_TIMEOUTS.remediationStep,
};

/** Builds the mail-host clients from the config, resolving the SSH key and canary password once, here. */
export function createMailHostAccess(
  secrets: SecretResolver,
  sshOptions: SshOptions = DEFAULT_SSH_OPTIONS,
): MailHostAccess & CertificateTrust {
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
    tlsTrust,
  };
}

const SYSTEM_CAS = 'the system CAs';

/**
 * Read on every call, so a CA file replaced on disk counts from the next probe on. An unreadable file leaves the
 * system CAs, and says so wherever the trust anchor is named.
 */
async function tlsTrust(server: ServerConfig): Promise<TlsTrust> {
  const caFile = server.tls.caFile;
  if (caFile === undefined) return { source: SYSTEM_CAS };
  const file = path.resolve(caFile);
  try {
    return { ca: await readFile(file, 'utf8'), source: file };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    return { source: `${SYSTEM_CAS}, as the CA file ${file} could not be read (${code})` };
  }
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

/**
 * The canary's password goes only to a server whose certificate checks out against the configured CA; with
 * `imap.starttls` the session must be upgraded before login, otherwise it is upgraded whenever the server offers it.
 */
function canaryImapClient(server: ServerConfig, secrets: SecretResolver): ImapFlow | undefined {
  if (!server.canary) return undefined;
  const caFile = server.tls.caFile;
  return new ImapFlow({
    host: server.imap.host,
    port: server.imap.port,
    secure: server.imap.tls,
    ...(server.imap.starttls && !server.imap.tls ? { doSTARTTLS: true } : {}),
    ...(caFile !== undefined ? { tls: { ca: readCaFile(caFile) } } : {}),
    auth: { user: server.canary.imapUser, pass: secrets.resolve(server.canary.imapPassword) },
    logger: false,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
}

/** An unreadable CA file leaves the system CAs in charge, so the login fails on the certificate and says why. */
function readCaFile(caFile: string): string | undefined {
  try {
    return readFileSync(path.resolve(caFile), 'utf8');
  } catch {
    return undefined;
  }
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
