import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

/** `~/.cache/mailmend` (or under `$XDG_CACHE_HOME`): Temporal binaries built once per version, outside any checkout. */
export function cacheRoot(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'mailmend');
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The executable an environment variable names, if it names one; a path that is not executable is an error. */
export function explicitExecutable(env: NodeJS.ProcessEnv, variable: string): string | undefined {
  const file = env[variable];
  if (!file) return undefined;
  if (!isExecutable(file)) throw new Error(`${variable}=${file} is not an executable file`);
  return file;
}

export function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, command))) return path.join(dir, command);
  }
  return undefined;
}

/**
 * Builds into a private directory beside `destination` and renames it into place, so an interrupted build never
 * leaves a half-written tool behind, and of two concurrent builds the first to finish wins and is never replaced.
 * `build` receives the private directory and must leave `executableName` in it.
 */
export async function buildIntoCache(
  destination: string,
  executableName: string,
  what: string,
  onProgress: (line: string) => void,
  build: (buildDir: string) => Promise<void>,
): Promise<void> {
  mkdirSync(path.dirname(destination), { recursive: true });
  const buildDir = mkdtempSync(path.join(path.dirname(destination), '.build-'));
  const started = Date.now();
  const ticker = setInterval(
    () => onProgress(`still building ${what}... ${Math.round((Date.now() - started) / 1000)}s`),
    15_000,
  );
  try {
    await build(buildDir);
    moveIntoPlace(buildDir, destination, executableName);
    onProgress(`built ${what} in ${Math.round((Date.now() - started) / 1000)}s: ${destination}`);
  } finally {
    clearInterval(ticker);
    rmSync(buildDir, { recursive: true, force: true });
  }
}

function moveIntoPlace(buildDir: string, destination: string, executableName: string): void {
  const complete = () => isExecutable(path.join(destination, executableName));
  if (complete()) return;
  // Without the executable, whatever sits at the destination is an interrupted attempt.
  rmSync(destination, { recursive: true, force: true });
  try {
    renameSync(buildDir, destination);
  } catch (error) {
    if (!complete()) throw error;
  }
}

/** Runs a build tool, relaying its output line by line; rejects with the exit code when it fails. */
export async function runBuildTool(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; onProgress: (line: string) => void; label: string },
): Promise<void> {
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) options.onProgress(`${options.label}: ${line.trim()}`);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (exitCode !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${exitCode}`);
}

/** When mailmend cannot build a Temporal binary itself, the SDK downloads its own build into the cache. */
export function sdkDownload(env: NodeJS.ProcessEnv): EphemeralServerExecutable {
  const downloadDir = path.join(cacheRoot(env), 'sdk-download');
  mkdirSync(downloadDir, { recursive: true });
  return { type: 'cached-download', downloadDir };
}
