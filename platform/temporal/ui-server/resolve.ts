import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildIntoCache, cacheRoot, findOnPath, isExecutable, runBuildTool } from '../tool-cache';

/** The Temporal UI server library the Temporal CLI 1.5.1 embeds; `go/go.mod` pins the same version. */
export const UI_SERVER_VERSION = '2.42.1';
const EXECUTABLE = 'ui-server';

interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  onProgress: (line: string) => void;
}

export function cachedUiServer(env: NodeJS.ProcessEnv): string {
  return path.join(cacheRoot(env), 'temporal-ui-server', UI_SERVER_VERSION, EXECUTABLE);
}

/**
 * The Go program beside this file. tsc does not copy it, so the compiled module, one level deeper under dist/, finds
 * it in the source tree.
 */
export function uiServerSourceDir(): string {
  const candidates = [
    path.join(__dirname, 'go'),
    path.resolve(__dirname, '..', '..', '..', '..', 'platform', 'temporal', 'ui-server', 'go'),
  ];
  const found = candidates.find((directory) => existsSync(path.join(directory, 'go.mod')));
  if (!found) throw new Error(`no Temporal UI server sources (go.mod) in ${candidates.join(' or ')}`);
  return found;
}

/**
 * The Temporal Web UI server from the per-version cache, built there once from `go/` when missing. Without Go the
 * error says what to install.
 */
export async function resolveTemporalUiServer({
  env,
  onProgress,
}: ResolveOptions): Promise<{ executable: string; origin: 'cache' | 'go build' }> {
  const executable = cachedUiServer(env);
  if (isExecutable(executable)) return { executable, origin: 'cache' };
  const go = findOnPath('go', env);
  if (!go) {
    throw new Error(
      `the Temporal UI server ${UI_SERVER_VERSION} is built with Go, and no \`go\` is on PATH: install Go, ` +
        `or put a \`${EXECUTABLE}\` binary in ${path.dirname(executable)}`,
    );
  }
  const sourceDir = uiServerSourceDir();
  onProgress(`building the Temporal UI server ${UI_SERVER_VERSION} with ${go} (the first build takes minutes)`);
  await buildIntoCache(
    path.dirname(executable),
    EXECUTABLE,
    `the Temporal UI server ${UI_SERVER_VERSION}`,
    onProgress,
    (buildDir) =>
      runBuildTool(go, ['-C', sourceDir, 'build', '-o', path.join(buildDir, EXECUTABLE), '.'], {
        env: { ...env, GOFLAGS: env.GOFLAGS ?? '-mod=mod' },
        onProgress,
        label: 'go',
      }),
  );
  if (!isExecutable(executable)) throw new Error(`go build finished without ${executable}`);
  return { executable, origin: 'go build' };
}

export interface UiServerOptions {
  /** The Temporal gRPC frontend, `host:port`. */
  frontendAddress: string;
  host: string;
  port: number;
  /** The namespace the UI opens on; the program's default is `default`. */
  namespace?: string;
}

/**
 * The UI server's arguments, for spawning it beside a cluster.
 *
 * @example spawn(executable, uiServerArgs({ frontendAddress: '127.0.0.1:7233', host: '127.0.0.1', port: 8233 }))
 */
export function uiServerArgs({ frontendAddress, host, port, namespace }: UiServerOptions): string[] {
  const args = ['--frontend', frontendAddress, '--ip', host, '--port', String(port)];
  return namespace === undefined ? args : [...args, '--namespace', namespace];
}
