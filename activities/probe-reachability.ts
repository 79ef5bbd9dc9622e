import net from 'node:net';
import tls from 'node:tls';
import type { CheckResult } from '../workflows/messages';
import { ProbeFailure, runCheck } from './probe-wire';
import { EHLO_NAME, quoteReply, readBanner, readSmtpReply } from './smtp-conversation';
import { tlsOptions } from './tls-certificate';

/**
 * Checks that a TCP connection to `host:port` opens within `timeoutMs`.
 *
 * @example await probeTcp('mail.example.org', 25, 5_000) // { ok: true, detail: 'connected to mail.example.org:25', ... }
 */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return runCheck({
    connect: () => net.connect({ host, port }),
    connectedEvent: 'connect',
    timeoutMs,
    talk: async () => `connected to ${host}:${port}`,
  });
}

/** Checks that an SMTP server greets with 220 and answers `EHLO mailmend.probe` with 250; detail is the banner. */
export function probeSmtp(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return runCheck({
    connect: () => net.connect({ host, port }),
    connectedEvent: 'connect',
    timeoutMs,
    talk: async (conversation) => {
      const banner = (await readBanner(conversation)).lines[0] ?? '';
      conversation.stage = 'the EHLO reply';
      conversation.socket.write(`EHLO ${EHLO_NAME}\r\n`);
      const ehlo = await readSmtpReply(conversation.lines, 'BAD_REPLY');
      if (ehlo.code !== 250) throw new ProbeFailure('EHLO_REJECTED', `${banner} / EHLO: ${quoteReply(ehlo)}`);
      return banner;
    },
    farewell: 'QUIT\r\n',
  });
}

/**
 * Checks that an IMAP server greets with `* OK`, over TLS when `tls` is set; detail is the greeting. The certificate
 * is not judged here: that is `imapTls`'s job, so an expired certificate does not read as a server that is down.
 */
export function probeImap(host: string, port: number, useTls: boolean, timeoutMs: number): Promise<CheckResult> {
  const connect = useTls
    ? () => tls.connect({ host, port, ...tlsOptions(host, { source: 'the system CAs' }) })
    : () => net.connect({ host, port });
  return runCheck({
    connect,
    connectedEvent: useTls ? 'secureConnect' : 'connect',
    timeoutMs,
    talk: async (conversation) => {
      conversation.stage = 'the IMAP greeting';
      const greeting = await conversation.lines.next();
      if (!/^\* OK\b/i.test(greeting)) throw new ProbeFailure('BAD_GREETING', greeting);
      return greeting;
    },
    farewell: 'a1 LOGOUT\r\n',
  });
}
