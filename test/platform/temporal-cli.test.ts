import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cachedCliPath, resolveTemporalCli } from '../../platform/temporal/cli/resolve';
import { writeExecutable } from '../support/executables';

describe('finding the Temporal CLI', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mailmend-cli-'));
  const progress: string[] = [];
  const onProgress = (line: string) => progress.push(line);

  test('TEMPORAL_CLI_PATH wins over PATH and the cache', async () => {
    const explicit = writeExecutable(path.join(root, 'explicit'), 'temporal');
    const onPath = path.join(root, 'onpath');
    writeExecutable(onPath, 'temporal');
    const resolved = await resolveTemporalCli({
      env: { TEMPORAL_CLI_PATH: explicit, PATH: onPath, XDG_CACHE_HOME: path.join(root, 'cache') },
      onProgress,
    });
    expect(resolved).toEqual({ executable: { type: 'existing-path', path: explicit }, origin: 'TEMPORAL_CLI_PATH' });
  });

  test('a TEMPORAL_CLI_PATH that is not executable is a clear error', async () => {
    await expect(
      resolveTemporalCli({ env: { TEMPORAL_CLI_PATH: path.join(root, 'nope') }, onProgress }),
    ).rejects.toThrow(`TEMPORAL_CLI_PATH=${path.join(root, 'nope')} is not an executable file`);
  });

  test('then `temporal` on PATH, then the per-version cache', async () => {
    const onPath = path.join(root, 'path-only');
    const cliOnPath = writeExecutable(onPath, 'temporal');
    const cacheHome = path.join(root, 'cache-home');
    const env = { PATH: onPath, XDG_CACHE_HOME: cacheHome };
    expect(await resolveTemporalCli({ env, onProgress })).toMatchObject({
      origin: 'PATH',
      executable: { path: cliOnPath },
    });

    const cached = cachedCliPath(env);
    expect(cached).toBe(path.join(cacheHome, 'mailmend', 'temporal-cli', '1.5.1', 'temporal'));
    writeExecutable(path.dirname(cached), 'temporal');
    expect(
      await resolveTemporalCli({ env: { PATH: path.join(root, 'empty'), XDG_CACHE_HOME: cacheHome }, onProgress }),
    ).toEqual({
      executable: { type: 'existing-path', path: cached },
      origin: 'cache',
    });
  });

  test('without Go it falls back to the SDK download, into the cache directory', async () => {
    const cacheHome = path.join(root, 'no-go');
    const resolved = await resolveTemporalCli({
      env: { PATH: path.join(root, 'empty'), XDG_CACHE_HOME: cacheHome },
      onProgress,
    });
    expect(resolved).toEqual({
      executable: { type: 'cached-download', downloadDir: path.join(cacheHome, 'mailmend', 'sdk-download') },
      origin: 'SDK download',
    });
    expect(progress.some((line) => line.includes('no Go toolchain found'))).toBe(true);
  });

  test('a failed go build reports its output and leaves no binary in the cache', async () => {
    const goDir = path.join(root, 'broken-go');
    writeExecutable(goDir, 'go', '#!/bin/sh\necho "go: module lookup disabled" >&2\nexit 1\n');
    const env = { PATH: goDir, XDG_CACHE_HOME: path.join(root, 'broken-cache') };
    await expect(resolveTemporalCli({ env, onProgress })).rejects.toThrow(/exited with 1/);
    expect(progress).toContain('go: go: module lookup disabled');
    expect(existsSync(cachedCliPath(env))).toBe(false);
  });
});
