import { readdirSync, readFileSync } from 'node:fs';

/**
 * Finds the `temporal server start-dev` process that `parentPid` spawned to serve `port`. The SDK does not expose the
 * pid of the server it launches, so it is read from /proc; elsewhere (no /proc) the answer is undefined.
 *
 * @example const pid = findDevServerPid({ port: 7233 });
 */
export function findDevServerPid({
  port,
  parentPid = process.pid,
}: {
  port: number;
  parentPid?: number;
}): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (parentOf(pid) === parentPid && servesPort(commandLineOf(pid), port)) return pid;
  }
  return undefined;
}

/** False once the process has exited, including while it waits, a zombie, for its parent to reap it. */
export function isProcessRunning(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

function servesPort(args: string[], port: number): boolean {
  const portIndex = args.indexOf('--port');
  return args.includes('start-dev') && portIndex >= 0 && args[portIndex + 1] === String(port);
}

function parentOf(pid: number): number | undefined {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? undefined : Number(ppid);
}

/** The fields of /proc/<pid>/stat after the command name, which may itself hold spaces and parentheses. */
function statFields(pid: number): string[] | undefined {
  const stat = readProcFile(pid, 'stat');
  if (stat === undefined) return undefined;
  return stat
    .slice(stat.lastIndexOf(')') + 1)
    .trim()
    .split(' ');
}

function commandLineOf(pid: number): string[] {
  return (readProcFile(pid, 'cmdline') ?? '').split('\0');
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}
