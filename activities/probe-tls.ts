import net from 'node:net';
import tls from 'node:tls';
import type { ServerConfig } from '../config/schema';
import type { CertificateSummary, CheckResult } from '../workflows/messages';
import { ProbeFailure, runCheck, type Conversation } from './probe-wire';
import { ehlo, offersStartTls, readBanner, requestStartTls } from './smtp-conversation';
import { checkCertificate, tlsOptions, upgradeToTls, type TlsTrust } from './tls-certificate';

/** A TLS check's result, absent when the service neither offers nor is configured for TLS, and the certificate it saw. */
export interface TlsProbeOutcome {
  check?: CheckResult;
  /** Set when the certificate passed every check. */
  certificate?: CertificateSummary;
}

export interface TlsProbeTarget {
  host: string;
  port: number;
  trust: TlsTrust;
  timeoutMs: number;
  now: () => Date;
}

/**
 * STARTTLS on SMTP, then the certificate's dates, chain and name. A server that does not offer STARTTLS fails when
 * `requireTls`, and otherwise has no TLS check at all.
 */
export async function probeSmtpTls(target: TlsProbeTarget, requireTls: boolean): Promise<TlsProbeOutcome> {
  let offered = requireTls;
  let certificate: CertificateSummary | undefined;
  const check = await runCheck({
    connect: () => net.connect({ host: target.host, port: target.port }),
    connectedEvent: 'connect',
    timeoutMs: target.timeoutMs,
    talk: async (conversation) => {
      await readBanner(conversation);
      const extensions = await ehlo(conversation);
      if (!offersStartTls(extensions)) {
        throw new ProbeFailure('STARTTLS_NOT_OFFERED', 'the server does not offer STARTTLS, which the config requires');
      }
      offered = true;
      await requestStartTls(conversation);
      await upgradeToTls(conversation, target.host, target.trust);
      const verdict = inspect(conversation, target, 'smtp');
      certificate = verdict.summary;
      return `STARTTLS: ${verdict.detail}`;
    },
    farewell: 'QUIT\r\n',
  });
  return offered ? { check, ...(certificate ? { certificate } : {}) } : {};
}

/** The certificate of an IMAP server with implicit TLS (`tls`) or STARTTLS before login (`starttls`). */
export async function probeImapTls(target: TlsProbeTarget, imap: ServerConfig['imap']): Promise<TlsProbeOutcome> {
  if (!imap.tls && !imap.starttls) return {};
  let certificate: CertificateSummary | undefined;
  const implicit = imap.tls;
  const check = await runCheck({
    connect: implicit
      ? () => tls.connect({ host: target.host, port: target.port, ...tlsOptions(target.host, target.trust) })
      : () => net.connect({ host: target.host, port: target.port }),
    connectedEvent: implicit ? 'secureConnect' : 'connect',
    timeoutMs: target.timeoutMs,
    talk: async (conversation) => {
      if (!implicit) await imapStartTls(conversation, target);
      const verdict = inspect(conversation, target, 'imap');
      if (implicit) await readImapGreeting(conversation);
      certificate = verdict.summary;
      return `${implicit ? 'implicit TLS' : 'STARTTLS'}: ${verdict.detail}`;
    },
    farewell: 'a2 LOGOUT\r\n',
  });
  return { check, ...(certificate ? { certificate } : {}) };
}

function inspect(conversation: Conversation, target: TlsProbeTarget, service: CertificateSummary['service']) {
  conversation.stage = 'the certificate check';
  return checkCertificate(conversation.socket as tls.TLSSocket, target.host, service, target.trust, target.now());
}

async function readImapGreeting(conversation: Conversation): Promise<string> {
  conversation.stage = 'the IMAP greeting';
  const greeting = await conversation.lines.next();
  if (!/^\* OK\b/i.test(greeting)) throw new ProbeFailure('BAD_GREETING', greeting);
  return greeting;
}

/** Greeting, `a1 STARTTLS`, its tagged OK, then the handshake; untagged lines before the tagged reply are skipped. */
async function imapStartTls(conversation: Conversation, target: TlsProbeTarget): Promise<void> {
  await readImapGreeting(conversation);
  conversation.stage = 'the reply to STARTTLS';
  conversation.socket.write('a1 STARTTLS\r\n');
  let reply = await conversation.lines.next();
  while (!reply.startsWith('a1 ')) reply = await conversation.lines.next();
  if (!/^a1 OK\b/i.test(reply)) throw new ProbeFailure('STARTTLS_REFUSED', `STARTTLS: ${reply}`);
  if (conversation.lines.hasUnread) {
    throw new ProbeFailure('STARTTLS_INJECTION', 'the server sent data after its STARTTLS reply, before TLS began');
  }
  await upgradeToTls(conversation, target.host, target.trust);
}
