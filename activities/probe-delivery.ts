import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { CheckResult } from '../workflows/messages';
import { TOKEN_HEADER } from './mail-roundtrip';
import { ProbeFailure, runCheck, type Conversation } from './probe-wire';
import {
  ehlo,
  offersStartTls,
  quoteReply,
  readBanner,
  readSmtpReply,
  requestStartTls,
  smtpCommand,
} from './smtp-conversation';
import { upgradeToTls, type TlsTrust } from './tls-certificate';

export interface DeliveryTarget {
  host: string;
  port: number;
  /** The canary mailbox the token message is addressed to. */
  mailbox: string;
  trust: TlsTrust;
  timeoutMs: number;
  /** Names the incident in the message body, for whoever reads the canary's mail. */
  incidentId: string;
}

/** What the delivery probe did: its check, and the token it sent when the server queued the message. */
export interface DeliveryOutcome {
  check: CheckResult;
  token: string;
  /** Set only when the server answered the message with 250. */
  queueId?: string;
  sent: boolean;
}

/** Postfix `queued as 4ABCD12`, Exim `id=1abcDE-000123-AB`, Sendmail `2.0.0 4AB1cd23 Message accepted`. */
const QUEUE_ID_PATTERNS = [
  /queued as ([0-9A-Za-z]+)/i,
  /\bid=([0-9A-Za-z-]+)/i,
  /^250[ -]\d\.\d\.\d ([0-9A-Za-z]{8,}) /,
];

function queueIdOf(replyLine: string): string | undefined {
  for (const pattern of QUEUE_ID_PATTERNS) {
    const match = pattern.exec(replyLine);
    if (match?.[1]) return match[1];
  }
  return undefined;
}

function tokenMessage(target: DeliveryTarget, sender: string, token: string): string {
  const domain = target.mailbox.split('@')[1] ?? 'localhost';
  return [
    `From: mailmend <${sender}>`,
    `To: <${target.mailbox}>`,
    `Subject: mailmend assessment check ${token}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${token}@${domain}>`,
    `${TOKEN_HEADER}: ${token}`,
    '',
    `Sent by mailmend while assessing incident ${target.incidentId}. It is deleted once found.`,
    '.',
    '',
  ].join('\r\n');
}

/**
 * A whole SMTP transaction to the canary: EHLO, STARTTLS when offered, MAIL FROM, RCPT TO, DATA, and the 250 that
 * queues it. Proves the server can take mail, which an answering EHLO does not.
 */
export async function probeSmtpDelivery(target: DeliveryTarget): Promise<DeliveryOutcome> {
  const token = `mailmend-probe-${randomUUID()}`;
  const sender = `mailmend@${target.mailbox.split('@')[1] ?? 'localhost'}`;
  let queueId: string | undefined;
  let sent = false;
  const check = await runCheck({
    connect: () => net.connect({ host: target.host, port: target.port }),
    connectedEvent: 'connect',
    timeoutMs: target.timeoutMs,
    talk: async (conversation) => {
      await greetAndSecure(conversation, target);
      await smtpCommand(conversation, `MAIL FROM:<${sender}>`, [250], 'MAIL_REJECTED');
      await smtpCommand(conversation, `RCPT TO:<${target.mailbox}>`, [250, 251], 'RCPT_REJECTED');
      await smtpCommand(conversation, 'DATA', [354], 'DATA_REJECTED');
      conversation.stage = 'the reply to the message';
      conversation.socket.write(tokenMessage(target, sender, token));
      const accepted = await messageAccepted(conversation);
      sent = true;
      queueId = queueIdOf(accepted);
      return queueId
        ? `queued as ${queueId} for ${target.mailbox}, token ${token}`
        : `accepted for ${target.mailbox} without a queue id (${accepted}), token ${token}`;
    },
    farewell: 'QUIT\r\n',
  });
  return { check, token, sent, ...(queueId ? { queueId } : {}) };
}

async function greetAndSecure(conversation: Conversation, target: DeliveryTarget): Promise<void> {
  await readBanner(conversation);
  const extensions = await ehlo(conversation);
  if (!offersStartTls(extensions)) return;
  await requestStartTls(conversation);
  // Whether the certificate is good is the TLS probe's question; this one only needs the encrypted path to work.
  await upgradeToTls(conversation, target.host, target.trust);
  await ehlo(conversation);
}

/** The reply to the message itself: 250 queues it; a 4xx or 5xx here is a server that cannot store mail. */
async function messageAccepted(conversation: Conversation): Promise<string> {
  const reply = await readSmtpReply(conversation.lines, 'BAD_REPLY');
  const quoted = quoteReply(reply);
  if (reply.code !== 250) throw new ProbeFailure('DATA_REJECTED', `end of DATA: ${quoted}`);
  return quoted;
}
