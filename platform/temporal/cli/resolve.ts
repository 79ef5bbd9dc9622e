import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import {
  buildIntoCache,
  cacheRoot,
  explicitExecutable,
  findOnPath,
  isExecutable,
  runBuildTool,
  sdkDownload,
} from '../tool-cache';

/** The last Temporal CLI release whose go.mod has no `replace` directive, so `go install` accepts it. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  onProgress: (line: string) => void;
}

interface ResolvedExecutable {
  executable: EphemeralServerExecutable;
  /** How it was found, for the start-up banner. */
  origin: 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install' | 'SDK download';
}

export function cachedCliPath(env: NodeJS.ProcessEnv): string {
  return path.join(cacheRoot(env), 'temporal-cli', TEMPORAL_CLI_VERSION, 'temporal');
}

/**
 * Finds the Temporal CLI, which holds the dev server and Web UI: `$TEMPORAL_CLI_PATH`, then `temporal` on PATH, then
 * the per-version cache, then a `go install` into that cache. Without Go it falls back to the SDK's own download.
 */
export async function resolveTemporalCli({ env, onProgress }: ResolveOptions): Promise<ResolvedExecutable> {
  const explicit = explicitExecutable(env, 'TEMPORAL_CLI_PATH');
  if (explicit) return { executable: { type: 'existing-path', path: explicit }, origin: 'TEMPORAL_CLI_PATH' };
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
  return { executable: sdkDownload(env), origin: 'SDK download' };
}

async function buildWithGo(
  go: string,
  destination: string,
  env: NodeJS.ProcessEnv,
  onProgress: (line: string) => void,
): Promise<void> {
  onProgress(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with ${go} (the first build takes a few minutes)`);
  await buildIntoCache(
    path.dirname(destination),
    path.basename(destination),
    `the Temporal CLI ${TEMPORAL_CLI_VERSION}`,
    onProgress,
    (buildDir) =>
      runBuildTool(go, ['install', `${CLI_MODULE}@v${TEMPORAL_CLI_VERSION}`], {
        env: { ...env, GOBIN: buildDir, GOFLAGS: env.GOFLAGS ?? '-mod=mod' },
        onProgress,
        label: 'go',
      }),
  );
}

/** The version a binary reports, to show at start-up. */
export function cliVersion(executablePath: string): string | undefined {
  const result = spawnSync(executablePath, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
