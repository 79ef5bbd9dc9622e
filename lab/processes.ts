import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOOPBACK } from '../platform/loopback';

export { LOOPBACK };

export interface CommandResult {
  argv: string[];
  exitCode: number;
  /** stdout and stderr together, trimmed. */
  output: string;
}

/** A command the lab needed did not succeed; its output is kept because it usually names the reason. */
export class LabCommandError extends Error {
  constructor(
    readonly result: CommandResult,
    context?: string,
  ) {
    super(
      `${context ? `${context}: ` : ''}\`${result.argv.join(' ')}\` exited with ${result.exitCode}` +
        (result.output ? `:\n${result.output}` : ' and printed nothing'),
    );
    this.name = 'LabCommandError';
  }
}

/**
 * Runs a command to completion and returns its exit code and output, never throwing on a non-zero exit.
 * Daemons that fork (postfix, dovecot, sshd) may keep the pipes open in the background, so the result is taken when
 * the command itself exits, not when its pipes close.
 */
export function runCommand(
  argv: string[],
  options: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runCommand needs a command');
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), LANG: 'C' },
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const finish = (): void => {
        child.stdout.destroy();
        child.stderr.destroy();
        const exitCode = code ?? (signal ? 128 : 1);
        const suffix = signal === 'SIGKILL' ? `\n(killed after ${timeoutMs} ms)` : '';
        resolve({ argv, exitCode, output: `${output.trim()}${suffix}` });
      };
      // Give the pipes a moment to drain; a forked daemon holding them must not keep us waiting.
      const grace = setTimeout(finish, 300);
      child.once('close', () => {
        clearTimeout(grace);
        finish();
      });
    });
  });
}

export async function runOrThrow(argv: string[], context?: string, timeoutMs?: number): Promise<CommandResult> {
  const result = await runCommand(argv, { timeoutMs });
  if (result.exitCode !== 0) throw new LabCommandError(result, context);
  return result;
}

async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** A zombie counts as gone: daemons are re-parented to an init that may never reap them. */
export function isProcessAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Stopped by a signal (state `T`, as after SIGSTOP): alive, but it runs nothing until it gets SIGCONT. */
export function isProcessStopped(pid: number): boolean {
  return procStat(pid)?.state === 'T';
}

/** The state letter (`S`, `R`, `T` for stopped, …) of every live process in the process group `pgid`. */
export function processGroupStates(pgid: number): { pid: number; state: string }[] {
  const found: { pid: number; state: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') found.push({ pid: Number(entry), state: stat.state });
  }
  return found;
}

/** Sends SIGCONT to process group `pgid` when any process of it is stopped; says whether it did. */
export function resumeStoppedGroup(pgid: number): boolean {
  if (!processGroupStates(pgid).some((process) => process.state === 'T')) return false;
  signalProcess(-pgid, 'SIGCONT');
  return true;
}

function processCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** The pid from `pidFile` if that process is alive and its command line contains `expected`, guarding against reuse. */
export async function livePid(pidFile: string, expected: string): Promise<number | undefined> {
  const pid = await readPidFile(pidFile);
  if (pid === undefined || !isProcessAlive(pid)) return undefined;
  return processCommandLine(pid)?.includes(expected) ? pid : undefined;
}

/** Every live descendant of `roots`, read from /proc, so children of a stopped daemon can be waited for too. */
export function descendantPids(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = procStat(pid);
    if (!stat || stat.state === 'Z') continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const pending = [...roots];
  while (pending.length > 0) {
    const parent = pending.pop() as number;
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      pending.push(child);
    }
  }
  return found;
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

class LabTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, detail?: string) {
    super(`${what} did not happen within ${timeoutMs} ms${detail ? `\n${detail}` : ''}`);
    this.name = 'LabTimeoutError';
  }
}

/** Polls `condition` until it holds; `what` names the awaited state in the timeout error. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; detail?: () => Promise<string> } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) throw new LabTimeoutError(what, timeoutMs, await options.detail?.());
    await sleep(options.intervalMs ?? 100);
  }
}

/** Stops the given processes by pid: SIGTERM, then SIGKILL for any still alive after `graceMs`. */
export async function stopPids(pids: number[], graceMs = 10_000): Promise<void> {
  const alive = (): number[] => pids.filter(isProcessAlive);
  for (const pid of alive()) signalProcess(pid, 'SIGTERM');
  try {
    await waitUntil('processes to exit', () => alive().length === 0, { timeoutMs: graceMs });
  } catch {
    for (const pid of alive()) signalProcess(pid, 'SIGKILL');
    await waitUntil(`processes ${alive().join(', ')} to exit after SIGKILL`, () => alive().length === 0, {
      timeoutMs: 5_000,
    });
  }
}

/** Whether something accepts TCP connections on the loopback port. */
export function isListening(port: number, host = LOOPBACK, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (listening: boolean): void => {
      socket.destroy();
      resolve(listening);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The last `lines` lines of a log file, or a note that it does not exist yet. */
export async function tailFile(file: string, lines = 20): Promise<string> {
  try {
    const text = (await readFile(file, 'utf8')).trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `(${file} does not exist)`;
    throw error;
  }
}
