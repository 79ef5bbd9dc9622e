import { chmodSync, cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildIntoCache, cacheRoot, findOnPath, isExecutable, runBuildTool } from '../tool-cache';

/** The Temporal server release a production-shaped cluster runs: the first with Worker Deployments. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const SERVER_MODULE = 'go.temporal.io/server';
const SERVER_MODULES = [`${SERVER_MODULE}/cmd/server`, `${SERVER_MODULE}/cmd/tools/sql`];

/**
 * The full server (all services in one process), `temporal-sql-tool`, which creates and migrates its schema, and the
 * release's own PostgreSQL schema and config files, copied beside them so a cluster needs nothing from Go's caches.
 */
export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  /** `temporal/versioned` and `visibility/versioned` for the postgres12 plugin. */
  postgresSchemaDir: string;
  /** The release's `config/development-postgres12.yaml`, and the dynamic config it names. */
  configTemplate: string;
  dynamicConfigTemplate: string;
}

/** What is copied from the module, relative to its root and to the cache directory alike. */
const SERVER_ASSETS = {
  postgresSchemaDir: 'schema/postgresql/v12',
  configTemplate: 'config/development-postgres12.yaml',
  dynamicConfigTemplate: 'config/dynamicconfig/development-sql.yaml',
} as const;

interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  onProgress: (line: string) => void;
}

export function cachedServerBinaries(env: NodeJS.ProcessEnv): TemporalServerBinaries {
  const directory = path.join(cacheRoot(env), 'temporal-server', TEMPORAL_SERVER_VERSION);
  return {
    server: path.join(directory, 'server'),
    sqlTool: path.join(directory, 'sql'),
    postgresSchemaDir: path.join(directory, SERVER_ASSETS.postgresSchemaDir),
    configTemplate: path.join(directory, SERVER_ASSETS.configTemplate),
    dynamicConfigTemplate: path.join(directory, SERVER_ASSETS.dynamicConfigTemplate),
  };
}

function hasAssets(binaries: TemporalServerBinaries): boolean {
  return (
    existsSync(binaries.configTemplate) &&
    existsSync(binaries.dynamicConfigTemplate) &&
    existsSync(path.join(binaries.postgresSchemaDir, 'temporal', 'versioned'))
  );
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
  const built = isExecutable(cached.server) && isExecutable(cached.sqlTool);
  if (built && hasAssets(cached)) return { ...cached, origin: 'cache' };
  const go = findOnPath('go', env);
  if (!go) {
    throw new Error(
      `the Temporal server ${TEMPORAL_SERVER_VERSION} is built with Go, and no \`go\` is on PATH: install Go, ` +
        `or put the \`server\` and \`sql\` binaries in ${path.dirname(cached.server)}`,
    );
  }
  const directory = path.dirname(cached.server);
  const goEnv = { ...env, GOFLAGS: env.GOFLAGS ?? '-mod=mod' };
  if (!built) {
    // One binary without the other is an interrupted build; the cache only ever holds both.
    rmSync(directory, { recursive: true, force: true });
    onProgress(`building the Temporal server ${TEMPORAL_SERVER_VERSION} with ${go} (the first build takes minutes)`);
    await buildIntoCache(directory, 'sql', `the Temporal server ${TEMPORAL_SERVER_VERSION}`, onProgress, (buildDir) =>
      runBuildTool(go, ['install', ...SERVER_MODULES.map((module) => `${module}@v${TEMPORAL_SERVER_VERSION}`)], {
        env: { ...goEnv, GOBIN: buildDir },
        onProgress,
        label: 'go',
      }),
    );
    if (!isExecutable(cached.server) || !isExecutable(cached.sqlTool)) {
      rmSync(directory, { recursive: true, force: true });
      throw new Error(`go install finished without both the server and the sql tool in ${directory}`);
    }
  }
  copyAssets(await serverModuleDir(go, goEnv), directory);
  return { ...cached, origin: built ? 'cache' : 'go install' };
}

/** Where Go keeps the server module's source; `go mod download` fetches it first if it is not there. */
async function serverModuleDir(go: string, env: NodeJS.ProcessEnv): Promise<string> {
  const output: string[] = [];
  await runBuildTool(go, ['mod', 'download', '-json', `${SERVER_MODULE}@v${TEMPORAL_SERVER_VERSION}`], {
    env,
    onProgress: (line) => output.push(line.replace(/^go: /, '')),
    label: 'go',
  });
  const dir = /"Dir":\s*"([^"]+)"/.exec(output.join('\n'))?.[1];
  if (!dir) throw new Error(`go mod download named no directory for ${SERVER_MODULE}@v${TEMPORAL_SERVER_VERSION}`);
  return dir;
}

/** Copies the schema and config templates out of the read-only module cache, writable, so they can be edited. */
function copyAssets(moduleDir: string, directory: string): void {
  for (const relative of Object.values(SERVER_ASSETS)) {
    const source = path.join(moduleDir, relative);
    if (!existsSync(source)) throw new Error(`${source} is missing from the Temporal server module`);
    const destination = path.join(directory, relative);
    rmSync(destination, { recursive: true, force: true });
    cpSync(source, destination, { recursive: true });
    makeWritable(destination);
  }
}

function makeWritable(target: string): void {
  const stats = statSync(target);
  chmodSync(target, stats.mode | 0o200);
  if (stats.isDirectory()) for (const entry of readdirSync(target)) makeWritable(path.join(target, entry));
}
