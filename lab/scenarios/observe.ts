import { readFile } from 'node:fs/promises';
import { anyLine, imapTagged, openConversation, smtpReplyEnd } from '../conversation';
import type { LabContext } from '../context';
import { LAB_CANARY } from '../layout';
import { readPostfixQueue } from '../postfix';
import { waitUntil } from '../processes';

/** How long a client waits for an answer before a scenario calls the server silent. */
export const SILENCE_MS = 3_000;

/** The SMTP conversation as far as it gets: each command with the reply, or `(no reply)` where the server went silent. */
export async function smtpTranscript(port: number, commands: string[]): Promise<string[]> {
  const conversation = await openConversation(port);
  try {
    const transcript = [`banner: ${(await conversation.reply(smtpReplyEnd, SILENCE_MS))?.trim() ?? '(no reply)'}`];
    for (const command of commands) {
      conversation.send(command);
      const reply = await conversation.reply(smtpReplyEnd, SILENCE_MS);
      transcript.push(`${command}: ${reply?.trim().replace(/\r?\n/g, ' | ') ?? '(no reply)'}`);
      if (reply === undefined) break;
    }
    return transcript;
  } finally {
    conversation.close();
  }
}

/** Whether a TCP client gets a first line from the port within SILENCE_MS. */
export async function greetingWithin(port: number): Promise<string | undefined> {
  const conversation = await openConversation(port);
  try {
    return (await conversation.reply(anyLine, SILENCE_MS))?.trim();
  } finally {
    conversation.close();
  }
}

/** Logs the canary in over IMAP and selects INBOX; each tagged answer, as the server gave it. */
export async function imapCanarySession(context: LabContext): Promise<{ login?: string; select?: string }> {
  const password = (await readFile(context.layout.canaryPasswordFile, 'utf8')).trim();
  const conversation = await openConversation(context.settings.ports.imap);
  try {
    await conversation.reply(anyLine, SILENCE_MS);
    conversation.send(`a1 LOGIN "${LAB_CANARY}" "${password}"`);
    const login = (await conversation.reply(imapTagged('a1'), 10_000))
      ?.trim()
      .split('\n')
      .at(-1)
      ?.replace(/ \[CAPABILITY [^\]]*\]/, '');
    if (!login?.startsWith('a1 OK')) return { login };
    conversation.send('a2 SELECT INBOX');
    const select = (await conversation.reply(imapTagged('a2'), 10_000))?.trim().split('\n').at(-1);
    return { login, select };
  } finally {
    conversation.close();
  }
}

/** Waits for `text` to appear in `file` after its first `from` characters, e.g. a daemon's log line. */
export async function waitForLogText(file: string, from: number, text: string | RegExp): Promise<string> {
  let found = '';
  await waitUntil(`"${String(text)}" in ${file}`, async () => {
    const added = (await readFile(file, 'utf8')).slice(from);
    const line = added
      .split('\n')
      .find((candidate) => (typeof text === 'string' ? candidate.includes(text) : text.test(candidate)));
    found = line ?? '';
    return line !== undefined;
  });
  return found;
}

export async function logLength(file: string): Promise<number> {
  return (await readFile(file, 'utf8').catch(() => '')).length;
}

/** Waits until Postfix holds a deferred message for the canary whose reason matches `reason`; returns that reason. */
export async function waitForCanaryDeferral(context: LabContext, reason: RegExp): Promise<string> {
  let found = '';
  await waitUntil(`a message for ${LAB_CANARY} deferred with ${String(reason)}`, async () => {
    const queue = await readPostfixQueue(context.tools, context.layout);
    const recipients = queue.filter((m) => m.queueName === 'deferred').flatMap((m) => m.recipients);
    found = recipients.find((r) => r.address === LAB_CANARY && reason.test(r.delayReason ?? ''))?.delayReason ?? '';
    return found !== '';
  });
  return found;
}

/** Hands one message for the canary to the lab's Postfix, as any sender on the internet would. */
export async function sendToCanary(context: LabContext, subject: string): Promise<string> {
  const transcript = await smtpTranscript(context.settings.ports.smtp, [
    'EHLO sender.example',
    'MAIL FROM:<lab-sender@lab.test>',
    `RCPT TO:<${LAB_CANARY}>`,
    'DATA',
    `Subject: ${subject}\r\n\r\nSent by a mailmend lab scenario.\r\n.`,
    'QUIT',
  ]);
  const accepted = transcript.find((line) => line.startsWith('Subject:'));
  if (!accepted?.includes(': 250')) throw new Error(`Postfix did not accept the message: ${transcript.join(' / ')}`);
  return accepted;
}
