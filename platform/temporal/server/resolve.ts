import { rmSync } from 'node:fs';
import path from 'node:path';
import { buildIntoCache, cacheRoot, findOnPath, isExecutable, runBuildTool } from '../tool-cache';

/** The Temporal server release a production-shaped cluster runs: the first with Worker Deployments. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const SERVER_MODULES = ['go.temporal.io/server/cmd/server', 'go.temporal.io/server/cmd/tools/sql'];

/** The full server (all services in one process) and `temporal-sql-tool`, which creates and migrates its schema. */
export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
}

interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  onProgress: (line: string) => void;
}

export function cachedServerBinaries(env: NodeJS.ProcessEnv): TemporalServerBinaries {
  const directory = path.join(cacheRoot(env), 'temporal-server', TEMPORAL_SERVER_VERSION);
  return { server: path.join(directory, 'server'), sqlTool: path.join(directory, 'sql') };
}

/**
 * The Temporal server and its SQL tool from the per-version cache, built there once with `go install` when either is
 * missing. There is no download to fall back on: without Go the error says what to install.
 */
export async function resolveTemporalServer({
  env,
  onProgress,
}: ResolveOptions): Promise<TemporalServerBinaries & { origin: 'cache' | 'go install' }> {
  const cached = cachedServerBinaries(env);
  if (isExecutable(cached.server) && isExecutable(cached.sqlTool)) return { ...cached, origin: 'cache' };
  const go = findOnPath('go', env);
  if (!go) {
    throw new Error(
      `the Temporal server ${TEMPORAL_SERVER_VERSION} is built with Go, and no \`go\` is on PATH: install Go, ` +
        `or put the \`server\` and \`sql\` binaries in ${path.dirname(cached.server)}`,
    );
  }
  const directory = path.dirname(cached.server);
  // One binary without the other is an interrupted build; the cache only ever holds both.
  rmSync(directory, { recursive: true, force: true });
  onProgress(`building the Temporal server ${TEMPORAL_SERVER_VERSION} with ${go} (the first build takes minutes)`);
  await buildIntoCache(directory, 'sql', `the Temporal server ${TEMPORAL_SERVER_VERSION}`, onProgress, (buildDir) =>
    runBuildTool(go, ['install', ...SERVER_MODULES.map((module) => `${module}@v${TEMPORAL_SERVER_VERSION}`)], {
      env: { ...env, GOBIN: buildDir, GOFLAGS: env.GOFLAGS ?? '-mod=mod' },
      onProgress,
      label: 'go',
    }),
  );
  if (!isExecutable(cached.server) || !isExecutable(cached.sqlTool)) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`go install finished without both the server and the sql tool in ${directory}`);
  }
  return { ...cached, origin: 'go install' };
}
