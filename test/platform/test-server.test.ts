import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cachedTestServerPath,
  resolveTestServer,
  TEST_SERVER_VERSION,
} from '../../platform/temporal/test-server/resolve';
import { writeExecutable } from '../support/executables';

describe('finding the time-skipping test server', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mailmend-test-server-'));
  const progress: string[] = [];
  const onProgress = (line: string) => progress.push(line);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('TEMPORAL_TEST_SERVER_PATH wins over the cache', async () => {
    const explicit = writeExecutable(path.join(root, 'explicit'), 'test-server');
    const env = { TEMPORAL_TEST_SERVER_PATH: explicit, XDG_CACHE_HOME: path.join(root, 'cache') };
    writeExecutable(path.dirname(cachedTestServerPath(env)), 'temporal-test-server');
    expect(await resolveTestServer({ env, onProgress })).toEqual({
      executable: { type: 'existing-path', path: explicit },
      origin: 'TEMPORAL_TEST_SERVER_PATH',
    });
  });

  test('a TEMPORAL_TEST_SERVER_PATH that is not executable is a clear error', async () => {
    const missing = path.join(root, 'nope');
    await expect(resolveTestServer({ env: { TEMPORAL_TEST_SERVER_PATH: missing }, onProgress })).rejects.toThrow(
      `TEMPORAL_TEST_SERVER_PATH=${missing} is not an executable file`,
    );
  });

  test('the per-version cache is used without asking Maven', async () => {
    const env = { PATH: path.join(root, 'empty'), XDG_CACHE_HOME: path.join(root, 'cached') };
    const cached = cachedTestServerPath(env);
    expect(cached).toBe(
      path.join(root, 'cached', 'mailmend', 'temporal-test-server', TEST_SERVER_VERSION, 'temporal-test-server'),
    );
    writeExecutable(path.dirname(cached), 'temporal-test-server');
    expect(await resolveTestServer({ env, onProgress })).toEqual({
      executable: { type: 'existing-path', path: cached },
      origin: 'cache',
    });
  });

  test('a Maven build writes the launcher for the Java main class, with the jars beside it', async () => {
    const tools = path.join(root, 'tools');
    // A stand-in mvn that "copies" one jar where it was told to, so the test needs no network.
    writeExecutable(
      tools,
      'mvn',
      '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -f ] && pom="$2"; shift; done\n' +
        'mkdir -p "$(dirname "$pom")/lib" && touch "$(dirname "$pom")/lib/x.jar"\n',
    );
    writeExecutable(tools, 'java');
    const env = { PATH: [tools, '/usr/bin', '/bin'].join(path.delimiter), XDG_CACHE_HOME: path.join(root, 'built') };
    const resolved = await resolveTestServer({ env, onProgress });
    const launcher = cachedTestServerPath(env);
    expect(resolved).toEqual({ executable: { type: 'existing-path', path: launcher }, origin: 'maven' });
    expect(readFileSync(launcher, 'utf8')).toContain(
      `exec '${path.join(tools, 'java')}' -cp "$(dirname "$0")/lib/*" io.temporal.testserver.TestServer "$@"`,
    );
    expect(existsSync(path.join(path.dirname(launcher), 'lib', 'x.jar'))).toBe(true);
  });

  test('a failed Maven build reports its output and leaves nothing in the cache', async () => {
    const tools = path.join(root, 'broken-tools');
    writeExecutable(tools, 'mvn', '#!/bin/sh\necho "Could not resolve dependencies" >&2\nexit 1\n');
    writeExecutable(tools, 'java');
    const env = { PATH: tools, XDG_CACHE_HOME: path.join(root, 'broken') };
    await expect(resolveTestServer({ env, onProgress })).rejects.toThrow(/exited with 1/);
    expect(progress).toContain('mvn: Could not resolve dependencies');
    expect(existsSync(path.dirname(cachedTestServerPath(env)))).toBe(false);
  });

  test('without Maven or Java it falls back to the SDK download', async () => {
    const env = { PATH: path.join(root, 'empty'), XDG_CACHE_HOME: path.join(root, 'no-maven') };
    expect(await resolveTestServer({ env, onProgress })).toEqual({
      executable: { type: 'cached-download', downloadDir: path.join(root, 'no-maven', 'mailmend', 'sdk-download') },
      origin: 'SDK download',
    });
  });
});
