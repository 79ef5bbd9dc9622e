import { HOST_COMMAND_TIMEOUTS } from './host-command-timeouts';
import type { CommandRun } from './host-evidence-types';
import type { SshSession } from './ssh';
import { safePath } from './signatures/placeholders';

// The second look at the host: a few fixed, read-only commands chosen by what the first look found (a port in a bind
// error, a full filesystem, a file a daemon cannot read). Their parameters passed the checks in
// signatures/placeholders.ts before they got here.

/** At most this many follow-ups per diagnosis, so diagnosis stays bounded in time. */
export const MAX_FOLLOW_UPS = 8;
const LARGEST_FILES = 5;
const FIND_OUTPUT_BYTES = 2 * 1024 * 1024;
const TIMEOUTS = HOST_COMMAND_TIMEOUTS;

export type FollowUpRequest =
  | { kind: 'listeners'; port: number }
  | { kind: 'process-state'; pid: number }
  | { kind: 'disk' | 'largest-recent-files' | 'file-status' | 'certificate-dates'; path: string };

/** What one follow-up saw: the commands as run, and the values it adds to a signature's words. */
export interface FollowUpResult {
  request: FollowUpRequest;
  runs: CommandRun[];
  values: Record<string, string>;
}

/** A key that is the same for the same question, so nothing is asked twice. */
export function followUpKey(request: FollowUpRequest): string {
  if (request.kind === 'listeners') return `listeners:${request.port}`;
  if (request.kind === 'process-state') return `process-state:${request.pid}`;
  return `${request.kind}:${request.path}`;
}

function outputLines(run: CommandRun): string[] {
  return run.output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** `ss -ltnp` rows whose local address ends in `:<port>`, as `name (pid N)`. */
export function parseListeners(output: string, port: number): { holder: string; holderPid?: string } | undefined {
  for (const line of output.split('\n')) {
    const columns = line.trim().split(/\s+/);
    const local = columns[3];
    if (columns[0] !== 'LISTEN' || !local?.endsWith(`:${port}`)) continue;
    const owner = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    if (!owner) return { holder: `a process \`ss\` does not name, listening on ${local}` };
    return { holder: `${owner[1]} (pid ${owner[2]}) listening on ${local}`, holderPid: owner[2] ?? '' };
  }
  return undefined;
}

/** The mount point and use of the filesystem under a path, from `df -P` and `df -Pi`. */
export function parseDfRow(output: string): { mount: string; percent: string } | undefined {
  const row = output
    .split('\n')
    .map((line) => /^\S+\s+\S+\s+\S+\s+\S+\s+(\d+%|-)\s+(\/.*)$/.exec(line.trim()))
    .find((match) => match !== null);
  return row?.[1] && row[2] ? { mount: row[2], percent: row[1] } : undefined;
}

function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = bytes;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${size.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The largest files of `find ... -printf '%s %p\n'`, biggest first. */
export function largestFiles(output: string, count = LARGEST_FILES): string[] {
  return output
    .split('\n')
    .map((line) => /^(\d+) (\/.+)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ size: Number(match[1]), path: match[2] ?? '' }))
    .sort((a, b) => b.size - a.size)
    .slice(0, count)
    .map((file) => `${file.path} (${humanSize(file.size)})`);
}

async function listeners(session: SshSession, port: number): Promise<Omit<FollowUpResult, 'request'>> {
  const run = await session.run(['ss', '-ltnp'], { timeoutMs: TIMEOUTS.quickRead });
  const found = run.exitCode === 0 ? parseListeners(run.output, port) : undefined;
  const values: Record<string, string> = found
    ? { holder: found.holder, ...(found.holderPid ? { holderPid: found.holderPid } : {}) }
    : { holder: run.exitCode === 0 ? `nothing any more (\`ss -ltnp\` shows no listener on port ${port})` : 'unknown' };
  return { runs: [run], values };
}

async function processState(session: SshSession, pid: number): Promise<Omit<FollowUpResult, 'request'>> {
  const run = await session.run(['ps', '-o', 'pid,stat,wchan,args', '-p', String(pid)], {
    timeoutMs: TIMEOUTS.quickRead,
  });
  const row = outputLines(run).find((line) => line.startsWith(`${pid} `));
  return { runs: [run], values: row ? { processState: row } : {} };
}

async function mountOf(session: SshSession, path: string): Promise<{ run: CommandRun; mount?: string; used?: string }> {
  const run = await session.run(['df', '-P', path], { timeoutMs: TIMEOUTS.quickRead });
  const row = run.exitCode === 0 ? parseDfRow(run.output) : undefined;
  // The mount point is the host's output and becomes part of a later argv, so it must be a plain absolute path.
  const mount = row ? safePath(row.mount) : undefined;
  return { run, ...(row && mount ? { mount, used: row.percent } : {}) };
}

async function disk(session: SshSession, path: string): Promise<Omit<FollowUpResult, 'request'>> {
  const space = await mountOf(session, path);
  const inodes = await session.run(['df', '-Pi', path], { timeoutMs: TIMEOUTS.quickRead });
  const inodeUse = inodes.exitCode === 0 ? parseDfRow(inodes.output)?.percent : undefined;
  const values: Record<string, string> = {};
  if (space.mount) values.mount = space.mount;
  if (space.used) values.diskUse = `${space.used} of space, ${inodeUse ?? 'unknown'} of inodes used`;
  return { runs: [space.run, inodes], values };
}

async function largestRecentFiles(
  session: SshSession,
  path: string,
  windowMinutes: number,
): Promise<Omit<FollowUpResult, 'request'>> {
  const { run: df, mount } = await mountOf(session, path);
  if (!mount) return { runs: [df], values: {} };
  const find = await session.run(
    ['find', mount, '-xdev', '-type', 'f', '-mmin', `-${windowMinutes}`, '-printf', '%s %p\\n'],
    { maxOutputBytes: FIND_OUTPUT_BYTES, timeoutMs: TIMEOUTS.listing },
  );
  const files = largestFiles(find.output);
  // find's output is quoted as the answer, not its thousands of lines.
  const quoted: CommandRun = { ...find, output: files.join('\n') };
  return {
    runs: [df, quoted],
    values: {
      mount,
      largestFiles: files.length > 0 ? files.join(', ') : `none written in the last ${windowMinutes} min`,
    },
  };
}

async function fileStatus(session: SshSession, path: string): Promise<Omit<FollowUpResult, 'request'>> {
  const parent = path.replace(/\/[^/]*\/?$/, '') || '/';
  const grandparent = parent.replace(/\/[^/]*$/, '') || '/';
  const run = await session.run(['stat', '-c', '%U:%G %a %n', path, parent, grandparent], {
    timeoutMs: TIMEOUTS.quickRead,
  });
  return { runs: [run], values: { fileStatus: outputLines(run).slice(0, 3).join('; ') } };
}

async function certificateDates(session: SshSession, path: string): Promise<Omit<FollowUpResult, 'request'>> {
  const run = await session.run(['openssl', 'x509', '-noout', '-subject', '-enddate', '-in', path], {
    timeoutMs: TIMEOUTS.configRead,
  });
  const lines = outputLines(run);
  if (run.exitCode !== 0)
    return { runs: [run], values: { certificateDates: `unreadable: ${lines[0] ?? 'no output'}` } };
  const notAfter = lines.find((line) => line.startsWith('notAfter='))?.slice('notAfter='.length);
  const expired = notAfter !== undefined && Date.parse(notAfter) < Date.now() ? ' (expired)' : '';
  return { runs: [run], values: { certificateDates: `${lines.join(', ')}${expired}` } };
}

function runFollowUp(session: SshSession, request: FollowUpRequest, windowMinutes: number) {
  switch (request.kind) {
    case 'listeners':
      return listeners(session, request.port);
    case 'process-state':
      return processState(session, request.pid);
    case 'disk':
      return disk(session, request.path);
    case 'largest-recent-files':
      return largestRecentFiles(session, request.path, windowMinutes);
    case 'file-status':
      return fileStatus(session, request.path);
    case 'certificate-dates':
      return certificateDates(session, request.path);
  }
}

/**
 * Runs the follow-ups asked for, each once and at most MAX_FOLLOW_UPS of them, in the order asked: the first
 * requests are the ones the strongest evidence asked for.
 */
export async function gatherFollowUps(
  session: SshSession,
  requests: readonly FollowUpRequest[],
  windowMinutes: number,
): Promise<FollowUpResult[]> {
  const unique = new Map<string, FollowUpRequest>();
  for (const request of requests) if (!unique.has(followUpKey(request))) unique.set(followUpKey(request), request);
  const results: FollowUpResult[] = [];
  for (const request of [...unique.values()].slice(0, MAX_FOLLOW_UPS)) {
    results.push({ request, ...(await runFollowUp(session, request, windowMinutes)) });
  }
  return results;
}
