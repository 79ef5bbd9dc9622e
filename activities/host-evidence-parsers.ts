import type { QueueState } from './host-evidence-types';

// Pure readers of what the mail host's commands print: they skip what they cannot read and never throw.

const MAX_DELAY_REASONS = 5;
const MAX_PROCESS_LINES = 30;
const MAX_DIFF_LINES = 60;

function lines(output: string): string[] {
  return output.split('\n').map((line) => line.replace(/\r$/, ''));
}

interface PostqueueRecipient {
  address?: unknown;
  delay_reason?: unknown;
}

interface PostqueueMessage {
  queue_name?: unknown;
  arrival_time?: unknown;
  recipients?: unknown;
}

/**
 * Reads `postqueue -j`: one JSON object per message. Lines that are not JSON (warnings on stderr, a line cut by
 * output trimming) are skipped.
 */
export function parsePostqueueJson(output: string, now: Date): QueueState {
  let deferred = 0;
  let active = 0;
  let oldestArrival: number | undefined;
  const reasonCounts = new Map<string, number>();
  for (const line of lines(output)) {
    if (!line.startsWith('{')) continue;
    let message: PostqueueMessage;
    try {
      message = JSON.parse(line) as PostqueueMessage;
    } catch {
      continue;
    }
    if (message.queue_name === 'active') active++;
    if (message.queue_name !== 'deferred') continue;
    deferred++;
    if (typeof message.arrival_time === 'number') {
      oldestArrival = Math.min(oldestArrival ?? message.arrival_time, message.arrival_time);
    }
    const recipients = Array.isArray(message.recipients) ? (message.recipients as PostqueueRecipient[]) : [];
    for (const recipient of recipients) {
      if (typeof recipient.delay_reason !== 'string' || recipient.delay_reason === '') continue;
      reasonCounts.set(recipient.delay_reason, (reasonCounts.get(recipient.delay_reason) ?? 0) + 1);
    }
  }
  const delayReasons = [...reasonCounts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_DELAY_REASONS)
    .map(([reason]) => reason);
  const state: QueueState = { deferred, active, delayReasons };
  if (oldestArrival !== undefined) {
    state.oldestDeferredAgeSeconds = Math.max(0, Math.floor(now.getTime() / 1000 - oldestArrival));
  }
  return state;
}

/** Counts the files `find <dir> -type f -printf .` listed: one dot each. */
export function countPrintedDots(output: string): number {
  return lines(output)
    .filter((line) => /^\.+$/.test(line))
    .reduce((sum, line) => sum + line.length, 0);
}

/** The pid in a pid file; Postfix pads it with spaces. */
export function parsePidFile(output: string): number | undefined {
  const text = output.trim();
  if (!/^\d+$/.test(text)) return undefined;
  const pid = Number(text);
  return pid > 0 ? pid : undefined;
}

/**
 * The value `postconf -h name` or `doveconf -h name` printed, without the program's own warning lines, which share
 * the output because stdout and stderr arrive together. An empty value is the empty string.
 */
export function parseConfigValue(output: string, program: 'postconf' | 'doveconf'): string {
  const values = lines(output).filter((line) => line.trim() !== '' && !line.startsWith(`${program}: `));
  return values.at(-1)?.trim() ?? '';
}

export interface ProcessLine {
  pid: number;
  user: string;
  args: string;
  line: string;
}

function parsePsLine(line: string): ProcessLine | undefined {
  const match = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
  if (!match) return undefined;
  return { pid: Number(match[1]), user: match[2] ?? '', args: match[3] ?? '', line: line.trim() };
}

const MAIL_PROCESS_ARGS = /(^|\/)(master|qmgr|pickup|smtpd)(\s|$)|postfix|dovecot|imap-login/;

/** The `ps -eo pid,user,args` lines of Postfix and Dovecot processes. */
export function selectMailProcesses(output: string): ProcessLine[] {
  return lines(output)
    .map(parsePsLine)
    .filter((process): process is ProcessLine => process !== undefined)
    .filter((process) => process.user === 'postfix' || MAIL_PROCESS_ARGS.test(process.args))
    .slice(0, MAX_PROCESS_LINES);
}

/** Dovecot's master shows as `/usr/sbin/dovecot ...`; its children as `dovecot/imap-login` and the like. */
export function findDovecotMaster(processes: readonly ProcessLine[]): ProcessLine | undefined {
  return processes.find((process) => /^(\S*\/)?dovecot(\s|$)/.test(process.args));
}

/**
 * The use percentage of the single filesystem row of `df -P <path>` or `df -Pi <path>`. A filesystem that does
 * not count inodes prints `-`, which reads as 0: it cannot run out of them.
 */
export function parseDfPercent(output: string): number | undefined {
  for (const line of lines(output)) {
    const match = /^.+?\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+%|-)\s+\/.*$/.exec(line);
    if (!match?.[4]) continue;
    return match[4] === '-' ? 0 : Number.parseInt(match[4], 10);
  }
  return undefined;
}

/** A unified diff cut to its first lines, saying how many were left out. */
export function trimDiff(output: string): string {
  const all = lines(output.replace(/\n$/, ''));
  if (all.length <= MAX_DIFF_LINES) return all.join('\n');
  return [...all.slice(0, MAX_DIFF_LINES), `... ${all.length - MAX_DIFF_LINES} more lines`].join('\n');
}

/** `stat -c %Y` prints seconds since the epoch. */
export function parseEpochSeconds(output: string): Date | undefined {
  const text = output.trim();
  return /^\d+$/.test(text) ? new Date(Number(text) * 1000) : undefined;
}

/** `find ... -printf '%T@ %p\n'` lines as paths, newest first. */
export function parseBackupListing(output: string): string[] {
  return lines(output)
    .map((line) => /^(\d+(?:\.\d+)?) (.+)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ mtime: Number(match[1]), path: match[2] ?? '' }))
    .sort((a, b) => b.mtime - a.mtime)
    .map((backup) => backup.path);
}

/** `date +%z` (`+0100`, `-0530`) as minutes east of UTC. */
export function parseUtcOffsetMinutes(output: string): number | undefined {
  const match = /^([+-])(\d{2})(\d{2})$/.exec(output.trim());
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

function localTimestamp(date: string, time: string, utcOffsetMinutes: number): number {
  return Date.parse(`${date}T${time}Z`) - utcOffsetMinutes * 60_000;
}

const DPKG_CHANGE = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (install|upgrade|remove|purge) /;
const APT_START = /^Start-Date: (\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})/;

/**
 * Package changes from dpkg.log (`2026-01-01 12:00:00 upgrade postfix:amd64 ...`) and apt's history.log
 * (`Start-Date:` with the `Commandline:` under it) made within `windowMs` before `now`. Both logs use the host's
 * local time, hence the offset.
 */
export function selectPackageChanges(output: string, now: Date, windowMs: number, utcOffsetMinutes: number): string[] {
  const since = now.getTime() - windowMs;
  const changes: string[] = [];
  let inRecentAptRun = false;
  for (const line of lines(output)) {
    const dpkg = DPKG_CHANGE.exec(line);
    if (dpkg?.[1] && dpkg[2]) {
      if (localTimestamp(dpkg[1], dpkg[2], utcOffsetMinutes) >= since) changes.push(line);
      continue;
    }
    const aptStart = APT_START.exec(line);
    if (aptStart?.[1] && aptStart[2]) {
      inRecentAptRun = localTimestamp(aptStart[1], aptStart[2], utcOffsetMinutes) >= since;
      if (inRecentAptRun) changes.push(line);
      continue;
    }
    if (inRecentAptRun && line.startsWith('Commandline: ')) changes.push(line);
  }
  return changes;
}

/**
 * Packages whose change can break mail: the daemons and their plugins, TLS, the C library, CA certificates, and the
 * libraries Postfix and Dovecot link (SASL, PCRE, Berkeley DB and LMDB maps, LDAP, SQL, ICU, compression).
 */
const MAIL_PACKAGE =
  /^(postfix|dovecot|openssl|libssl|libc6|libc-bin|ca-certificates|libsasl2|sasl2-bin|libpcre|libdb5|liblmdb|libldap|libmariadb|libmysqlclient|libpq5|libsqlite3|libicu|libzstd|liblz4|libsodium|libargon2|libstemmer|libexttextcat|libgssapi|libkrb5)/;

function isMailPackage(name: string): boolean {
  return MAIL_PACKAGE.test(name.split(':')[0] ?? '');
}

/**
 * Splits package changes (as {@link selectPackageChanges} returns them) into those that touch a mail package, the
 * suspects, and the rest. An apt run counts by the packages its command line names, and keeps its start line.
 */
export function splitPackageChanges(changes: readonly string[]): { mail: string[]; other: string[] } {
  const mail: string[] = [];
  const other: string[] = [];
  let aptStart: string | undefined;
  for (const line of changes) {
    if (APT_START.test(line)) {
      aptStart = line;
      continue;
    }
    const words = line.startsWith('Commandline: ')
      ? line.slice('Commandline: '.length).split(/\s+/).slice(1)
      : [line.split(' ')[3] ?? ''];
    const target = words.some((word) => !word.startsWith('-') && isMailPackage(word)) ? mail : other;
    if (aptStart !== undefined) target.push(aptStart);
    target.push(line);
    aptStart = undefined;
  }
  return { mail, other };
}
