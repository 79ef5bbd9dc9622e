import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cachedServerBinaries, resolveTemporalServer } from '../../platform/temporal/server/resolve';
import { writeExecutable } from '../support/executables';

describe('finding the Temporal server and its SQL tool', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mailmend-server-'));
  const progress: string[] = [];
  const onProgress = (line: string) => progress.push(line);

  test('both from the per-version cache', async () => {
    const env = { PATH: path.join(root, 'empty'), XDG_CACHE_HOME: path.join(root, 'cache') };
    const cached = cachedServerBinaries(env);
    expect(cached).toEqual({
      server: path.join(root, 'cache', 'mailmend', 'temporal-server', '1.29.1', 'server'),
      sqlTool: path.join(root, 'cache', 'mailmend', 'temporal-server', '1.29.1', 'sql'),
    });
    writeExecutable(path.dirname(cached.server), 'server');
    writeExecutable(path.dirname(cached.server), 'sql');
    expect(await resolveTemporalServer({ env, onProgress })).toEqual({ ...cached, origin: 'cache' });
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
    // Stands in for `go install` of both modules: it writes each binary into GOBIN.
    writeExecutable(
      goDir,
      'go',
      '#!/bin/sh\nfor b in server sql; do printf "#!/bin/sh\\n" > "$GOBIN/$b"; /bin/chmod +x "$GOBIN/$b"; done\n',
    );
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
