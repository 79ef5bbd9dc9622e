import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

/** The last Temporal CLI release whose go.mod has no `replace` directive, so `go install` accepts it. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  onProgress: (line: string) => void;
}

export interface ResolvedExecutable {
  executable: EphemeralServerExecutable;
  /** How it was found, for the start-up banner. */
  origin: 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install' | 'SDK download';
}

export function cacheRoot(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'mailmend');
}

export function cachedCliPath(env: NodeJS.ProcessEnv): string {
  return path.join(cacheRoot(env), 'temporal-cli', TEMPORAL_CLI_VERSION, 'temporal');
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, command))) return path.join(dir, command);
  }
  return undefined;
}

/**
 * Finds the Temporal CLI, which holds the dev server and Web UI: `$TEMPORAL_CLI_PATH`, then `temporal` on PATH, then
 * the per-version cache, then a `go install` into that cache. Without Go it falls back to the SDK's own download.
 */
export async function resolveTemporalCli({ env, onProgress }: ResolveOptions): Promise<ResolvedExecutable> {
  if (env.TEMPORAL_CLI_PATH) {
    if (!isExecutable(env.TEMPORAL_CLI_PATH)) {
      throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file`);
    }
    return { executable: { type: 'existing-path', path: env.TEMPORAL_CLI_PATH }, origin: 'TEMPORAL_CLI_PATH' };
  }
  const onPath = findOnPath('temporal', env);
  if (onPath) return { executable: { type: 'existing-path', path: onPath }, origin: 'PATH' };

  const cached = cachedCliPath(env);
  if (isExecutable(cached)) return { executable: { type: 'existing-path', path: cached }, origin: 'cache' };

  const go = findOnPath('go', env);
  if (go) {
    await buildWithGo(go, cached, env, onProgress);
    return { executable: { type: 'existing-path', path: cached }, origin: 'go install' };
  }
  onProgress('no Go toolchain found: the Temporal SDK will download its own CLI build');
  const downloadDir = path.join(cacheRoot(env), 'sdk-download');
  mkdirSync(downloadDir, { recursive: true });
  return { executable: { type: 'cached-download', downloadDir }, origin: 'SDK download' };
}

async function buildWithGo(
  go: string,
  destination: string,
  env: NodeJS.ProcessEnv,
  onProgress: (line: string) => void,
): Promise<void> {
  const versionDir = path.dirname(destination);
  mkdirSync(versionDir, { recursive: true });
  // Build into a private directory and rename, so a concurrent or interrupted build never leaves a half-written binary.
  const buildDir = mkdtempSync(path.join(versionDir, '.build-'));
  const started = Date.now();
  onProgress(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with ${go} (the first build takes a few minutes)`);
  const ticker = setInterval(
    () => onProgress(`still building the Temporal CLI... ${Math.round((Date.now() - started) / 1000)}s`),
    15_000,
  );
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, ['install', `${CLI_MODULE}@v${TEMPORAL_CLI_VERSION}`], {
        env: { ...env, GOBIN: buildDir, GOFLAGS: env.GOFLAGS ?? '-mod=mod' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const relay = (chunk: Buffer): void => {
        for (const line of chunk.toString().split('\n')) if (line.trim()) onProgress(`go: ${line.trim()}`);
      };
      child.stdout.on('data', relay);
      child.stderr.on('data', relay);
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (exitCode !== 0) throw new Error(`go install ${CLI_MODULE}@v${TEMPORAL_CLI_VERSION} exited with ${exitCode}`);
    renameSync(path.join(buildDir, 'temporal'), destination);
    onProgress(`built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)}s: ${destination}`);
  } finally {
    clearInterval(ticker);
    rmSync(buildDir, { recursive: true, force: true });
  }
}

/** The version a binary reports, to show at start-up. */
export function cliVersion(executablePath: string): string | undefined {
  const result = spawnSync(executablePath, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
