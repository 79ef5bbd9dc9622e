import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isProcessAlive, livePid, stopPids, tailFile } from '../lab/processes';
import { ClusterServiceError } from './errors';
import { processLogFile, processPidFile, type ClusterLayout, type ClusterProcessName } from './layout';

export interface DaemonCommand {
  argv: [string, ...string[]];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** A part of the command line that tells this process from an unrelated one that reused its pid. */
  marker: string;
}

/**
 * The pid of a cluster process from its pid file, when that process is alive and is still ours: its command line
 * still holds the marker recorded beside the pid at start, whatever the environment of the command asking now.
 */
export async function daemonPid(layout: ClusterLayout, name: ClusterProcessName): Promise<number | undefined> {
  const file = processPidFile(layout, name);
  let marker: string | undefined;
  try {
    marker = (await readFile(file, 'utf8')).split('\n')[1]?.trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return marker ? livePid(file, marker) : undefined;
}

/**
 * Starts a cluster process detached, so it outlives the command that started it, logging to `<state>/logs/<name>.log`.
 * A process that exits at once fails the start with the end of its log.
 */
export async function startDaemon(
  layout: ClusterLayout,
  name: ClusterProcessName,
  command: DaemonCommand,
): Promise<number> {
  await mkdir(layout.logDir, { recursive: true });
  await mkdir(layout.pidDir, { recursive: true });
  const logFile = processLogFile(layout, name);
  const log = openSync(logFile, 'a');
  const [file, ...args] = command.argv;
  const child = spawn(file, args, { cwd: command.cwd, env: command.env, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined)
    throw new ClusterServiceError(name, `could not be started: ${command.argv.join(' ')}`, logFile, '');
  await writeFile(processPidFile(layout, name), `${pid}\n${command.marker}\n`);
  return pid;
}

/** Fails with the end of the log when a process that was started has already exited. */
export async function assertStillRunning(layout: ClusterLayout, name: ClusterProcessName, pid: number): Promise<void> {
  if (isProcessAlive(pid)) return;
  const logFile = processLogFile(layout, name);
  throw new ClusterServiceError(name, `exited at start (pid ${pid})`, logFile, await tailFile(logFile));
}

/** SIGTERM, then SIGKILL after `graceMs`; the pid file goes too. Says which pid it stopped, if any. */
export async function stopDaemon(
  layout: ClusterLayout,
  name: ClusterProcessName,
  graceMs = 15_000,
): Promise<number | undefined> {
  const pid = await daemonPid(layout, name);
  if (pid !== undefined) await stopPids([pid], graceMs);
  await rm(processPidFile(layout, name), { force: true });
  return pid;
}
