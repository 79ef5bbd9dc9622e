import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cachedServerBinaries, resolveTemporalServer } from '../../platform/temporal/server/resolve';
import { writeExecutable } from '../support/executables';

/** A stand-in for the server module's source tree, read-only as Go's module cache keeps it. */
function fakeServerModule(root: string): string {
  const moduleDir = path.join(root, 'module');
  for (const dir of ['schema/postgresql/v12/temporal/versioned', 'config/dynamicconfig']) {
    mkdirSync(path.join(moduleDir, dir), { recursive: true });
  }
  writeFileSync(path.join(moduleDir, 'schema/postgresql/v12/temporal/versioned/v1.0.sql'), '-- schema\n', {
    mode: 0o444,
  });
  writeFileSync(path.join(moduleDir, 'config/development-postgres12.yaml'), 'persistence: {}\n', { mode: 0o444 });
  writeFileSync(path.join(moduleDir, 'config/dynamicconfig/development-sql.yaml'), '{}\n', { mode: 0o444 });
  return moduleDir;
}

/** A `go` that answers `mod download -json` with `moduleDir` and otherwise runs `install`. */
function fakeGo(dir: string, moduleDir: string, install: string): void {
  writeExecutable(
    dir,
    'go',
    `#!/bin/sh\nif [ "$1" = mod ]; then printf '{\\n\\t"Dir": "%s"\\n}\\n' '${moduleDir}'; exit 0; fi\n${install}`,
  );
}

describe('finding the Temporal server and its SQL tool', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mailmend-server-'));
  const moduleDir = fakeServerModule(root);
  const progress: string[] = [];
  const onProgress = (line: string) => progress.push(line);
  const installBoth = 'for b in server sql; do printf "#!/bin/sh\\n" > "$GOBIN/$b"; /bin/chmod +x "$GOBIN/$b"; done\n';

  test('both from the per-version cache, with the schema and config templates beside them', async () => {
    const env = { PATH: path.join(root, 'empty'), XDG_CACHE_HOME: path.join(root, 'cache') };
    const cached = cachedServerBinaries(env);
    const directory = path.join(root, 'cache', 'mailmend', 'temporal-server', '1.29.1');
    expect(cached).toEqual({
      server: path.join(directory, 'server'),
      sqlTool: path.join(directory, 'sql'),
      postgresSchemaDir: path.join(directory, 'schema/postgresql/v12'),
      configTemplate: path.join(directory, 'config/development-postgres12.yaml'),
      dynamicConfigTemplate: path.join(directory, 'config/dynamicconfig/development-sql.yaml'),
    });
    writeExecutable(directory, 'server');
    writeExecutable(directory, 'sql');
    mkdirSync(path.join(cached.postgresSchemaDir, 'temporal', 'versioned'), { recursive: true });
    mkdirSync(path.dirname(cached.dynamicConfigTemplate), { recursive: true });
    writeFileSync(cached.configTemplate, '');
    writeFileSync(cached.dynamicConfigTemplate, '');
    expect(await resolveTemporalServer({ env, onProgress })).toEqual({ ...cached, origin: 'cache' });
  });

  test('binaries without the templates get them copied from the module, writable, without a rebuild', async () => {
    const goDir = path.join(root, 'assets-go');
    fakeGo(goDir, moduleDir, 'echo "go install must not run" >&2; exit 1\n');
    const env = { PATH: goDir, XDG_CACHE_HOME: path.join(root, 'no-assets') };
    const cached = cachedServerBinaries(env);
    writeExecutable(path.dirname(cached.server), 'server');
    writeExecutable(path.dirname(cached.server), 'sql');
    expect(await resolveTemporalServer({ env, onProgress })).toEqual({ ...cached, origin: 'cache' });
    expect(readFileSync(cached.configTemplate, 'utf8')).toBe('persistence: {}\n');
    expect(statSync(cached.configTemplate).mode & 0o200).toBe(0o200);
    expect(existsSync(path.join(cached.postgresSchemaDir, 'temporal/versioned/v1.0.sql'))).toBe(true);
  });

  test('one binary without the other is rebuilt, and without Go the error says what to install', async () => {
    const env = { PATH: path.join(root, 'empty'), XDG_CACHE_HOME: path.join(root, 'half') };
    writeExecutable(path.dirname(cachedServerBinaries(env).server), 'server');
    await expect(resolveTemporalServer({ env, onProgress })).rejects.toThrow(
      /the Temporal server 1\.29\.1 is built with Go, and no `go` is on PATH/,
    );
  });

  test('go install builds both into the cache; a failed build leaves nothing there', async () => {
    const goDir = path.join(root, 'fake-go');
    fakeGo(goDir, moduleDir, installBoth);
    const env = { PATH: goDir, XDG_CACHE_HOME: path.join(root, 'built') };
    expect(await resolveTemporalServer({ env, onProgress })).toEqual({
      ...cachedServerBinaries(env),
      origin: 'go install',
    });

    const brokenDir = path.join(root, 'broken-go');
    writeExecutable(brokenDir, 'go', '#!/bin/sh\necho "go: module lookup disabled" >&2\nexit 1\n');
    const brokenEnv = { PATH: brokenDir, XDG_CACHE_HOME: path.join(root, 'broken') };
    await expect(resolveTemporalServer({ env: brokenEnv, onProgress })).rejects.toThrow(/exited with 1/);
    expect(existsSync(cachedServerBinaries(brokenEnv).server)).toBe(false);
  });
});
