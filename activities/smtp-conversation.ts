import { ProbeFailure, type Conversation, type LineReader } from './probe-wire';

/** The name the SMTP probes introduce themselves with, so mail server logs show who knocked. */
export const EHLO_NAME = 'mailmend.probe';

export interface SmtpReply {
  code: number;
  /** Every line of the reply, continuation lines included. */
  lines: string[];
}

/** The reply as a person would quote it: its lines joined, e.g. `451 4.3.0 Error: queue file write error`. */
export function quoteReply(reply: SmtpReply): string {
  return reply.lines.join(' / ');
}

/** Reads one SMTP reply, following `250-` continuation lines. */
export async function readSmtpReply(lines: LineReader, malformedCode: string): Promise<SmtpReply> {
  const firstLine = await lines.next();
  if (!/^\d{3}([ -]|$)/.test(firstLine)) throw new ProbeFailure(malformedCode, firstLine);
  const all = [firstLine];
  let line = firstLine;
  while (/^\d{3}-/.test(line)) {
    line = await lines.next();
    all.push(line);
  }
  return { code: Number(firstLine.slice(0, 3)), lines: all };
}

/**
 * Sends one command and reads its reply; any code but `expected` fails the check with `errorCode` and the reply.
 *
 * @example await smtpCommand(conversation, 'RCPT TO:<canary@example.org>', [250, 251], 'RCPT_REJECTED')
 */
export async function smtpCommand(
  conversation: Conversation,
  command: string,
  expected: readonly number[],
  errorCode: string,
): Promise<SmtpReply> {
  const verb = command.split(/[ :]/, 1)[0] ?? command;
  conversation.stage = `the reply to ${verb}`;
  conversation.socket.write(`${command}\r\n`);
  const reply = await readSmtpReply(conversation.lines, 'BAD_REPLY');
  if (!expected.includes(reply.code)) throw new ProbeFailure(errorCode, `${verb}: ${quoteReply(reply)}`);
  return reply;
}

/** Reads the 220 banner; anything else fails the check with BAD_GREETING. */
export async function readBanner(conversation: Conversation): Promise<SmtpReply> {
  conversation.stage = 'the SMTP banner';
  const banner = await readSmtpReply(conversation.lines, 'BAD_GREETING');
  if (banner.code !== 220) throw new ProbeFailure('BAD_GREETING', quoteReply(banner));
  return banner;
}

/** Says EHLO and returns the extensions the server announces, upper-cased: `STARTTLS`, `SIZE 10240000`, … */
export async function ehlo(conversation: Conversation): Promise<string[]> {
  const reply = await smtpCommand(conversation, `EHLO ${EHLO_NAME}`, [250], 'EHLO_REJECTED');
  return reply.lines.slice(1).map((line) => line.slice(4).trim().toUpperCase());
}

export function offersStartTls(extensions: readonly string[]): boolean {
  return extensions.some((extension) => extension === 'STARTTLS' || extension.startsWith('STARTTLS '));
}

/** Asks for STARTTLS and expects 220; a server that sent more than its reply may be under a plaintext injection. */
export async function requestStartTls(conversation: Conversation): Promise<void> {
  await smtpCommand(conversation, 'STARTTLS', [220], 'STARTTLS_REFUSED');
  if (conversation.lines.hasUnread) {
    throw new ProbeFailure('STARTTLS_INJECTION', 'the server sent data after its STARTTLS reply, before TLS began');
  }
}
