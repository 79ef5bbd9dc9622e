import { chown, mkdir, open, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { LabContext } from '../context';
import { startPostfix } from '../postfix';
import { moveOntoTmpfs } from '../tmpfs';
import { logLength, sendToCanary, smtpTranscript, waitForCanaryDeferral, waitForLogText } from './observe';
import { stopPostfix } from './stopped';
import { scenarioStateDir, ScenarioDidNotTakeError, type ScenarioRun } from './types';

/** A core dump from a crashed daemon lands in its working directory, the queue directory, and fills the spool. */
export const QUEUE_FILLER = 'core';
/** A mailbox of another user that grew until the mail partition was full. */
export const MAIL_FILLER_DIR = path.join('lab.test', 'archive');
export const MAIL_FILLER = path.join(MAIL_FILLER_DIR, 'archive.mbox');

const QUEUE_TMPFS_MIB = 16;
const MAIL_TMPFS_MIB = 4;
const MIB = 1024 * 1024;

export function queueStagingDir(context: LabContext): string {
  return path.join(scenarioStateDir(context.layout), 'queue');
}

export function mailStagingDir(context: LabContext): string {
  return path.join(scenarioStateDir(context.layout), 'mail');
}

/** Writes zeros to `file` until the file system has at most `leaveBytes` free, or none; returns the bytes written. */
async function fillUntilFree(file: string, leaveBytes: number): Promise<number> {
  const handle = await open(file, 'w', 0o600);
  const chunk = Buffer.alloc(256 * 1024);
  let written = 0;
  try {
    for (;;) {
      const { bavail, bsize } = await statfs(path.dirname(file));
      if (bavail * bsize <= leaveBytes) return written;
      written += (await handle.write(chunk, 0, Math.min(chunk.length, bavail * bsize - leaveBytes))).bytesWritten;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return written;
    throw error;
  } finally {
    await handle.close();
  }
}

/**
 * The queue on a partition of its own, filled: smtpd refuses new mail once free space drops below 1.5 times
 * message_size_limit (10 MB by default), with `452 4.3.1 Insufficient system storage` at MAIL FROM.
 */
export const queueDiskFull: ScenarioRun = async (context, record) => {
  const { tools, layout, settings } = context;
  await stopPostfix(context, record);
  await moveOntoTmpfs(layout.postfixQueueDir, QUEUE_TMPFS_MIB, queueStagingDir(context));
  record(`move ${layout.postfixQueueDir} onto a ${QUEUE_TMPFS_MIB} MiB tmpfs mounted over it`);
  await startPostfix(tools, layout);
  record('start Postfix');
  const written = await fillUntilFree(path.join(layout.postfixQueueDir, QUEUE_FILLER), 8 * MIB);
  record(`a ${Math.round(written / MIB)} MiB core dump fills ${path.join(layout.postfixQueueDir, QUEUE_FILLER)}`);
  const from = await logLength(layout.postfixLog);
  const transcript = await smtpTranscript(settings.ports.smtp, [
    'EHLO sender.example',
    'MAIL FROM:<lab-sender@lab.test>',
  ]);
  record(`SMTP to 127.0.0.1:${settings.ports.smtp}: ${transcript.join(' / ')}`);
  if (!transcript.at(-1)?.includes('452 4.3.1')) {
    throw new ScenarioDidNotTakeError('queue-disk-full', `MAIL FROM answered: ${transcript.at(-1)}`);
  }
  record(`postfix.log: ${await waitForLogText(layout.postfixLog, from, 'not enough free space in mail queue')}`);
};

/** The Maildirs on a partition of their own, filled by another mailbox: delivery to the canary defers. */
export const mailDiskFull: ScenarioRun = async (context, record) => {
  const { layout } = context;
  const { uid, gid } = await stat(layout.mailDir);
  await moveOntoTmpfs(layout.mailDir, MAIL_TMPFS_MIB, mailStagingDir(context));
  record(`move ${layout.mailDir} onto a ${MAIL_TMPFS_MIB} MiB tmpfs mounted over it`);
  const filler = path.join(layout.mailDir, MAIL_FILLER);
  await mkdir(path.dirname(filler), { recursive: true, mode: 0o700 });
  await chown(path.dirname(filler), uid, gid);
  const written = await fillUntilFree(filler, 0);
  await chown(filler, uid, gid);
  record(`another mailbox grows to ${Math.round(written / 1024)} KiB and fills ${layout.mailDir}`);
  await sendToCanary(context, 'mailmend lab: mail-disk-full');
  const reason = await waitForCanaryDeferral(context, /No space left on device/);
  record(`a message for the canary is deferred: ${reason}`);
};
