import type { ImapFlow } from 'imapflow';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import type { SshSession } from './ssh';
import type { TlsTrust } from './tls-certificate';

/**
 * Everything activities need to reach a mail host, built once by the worker with the secrets resolved. Activities
 * never see the key or the password themselves, only the clients made from them.
 */
export interface MailHostAccess {
  /** Opens one SSH connection with the pinned host key, runs `use` over it, and closes it. */
  withSsh<T>(server: ServerConfig, use: (session: SshSession) => Promise<T>): Promise<T>;
  /** An IMAP client logged in as the canary mailbox, or undefined when the server has no canary. */
  canaryImap(server: ServerConfig): ImapFlow | undefined;
  /** A transport that submits mail to the server's own SMTP endpoint. */
  serverSmtp(server: ServerConfig): Transporter;
}

/** What the TLS probes check certificates against; separate because only the probes need it. */
export interface CertificateTrust {
  /** The CAs the server's certificates must chain to: the PEM of `tls.caFile`, read now, or the system CAs; never throws. */
  tlsTrust(server: ServerConfig): Promise<TlsTrust>;
}

/** What every activity that reaches a configured mail host is built from. */
export interface MailHostDeps {
  servers: ReadonlyMap<string, ServerConfig>;
  mailHost: MailHostAccess;
  logger: Logger;
}
