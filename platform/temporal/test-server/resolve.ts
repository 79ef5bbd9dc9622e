import { writeFileSync } from 'node:fs';
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

/** The Java SDK's time-skipping test server on Maven Central; its `main` takes `<port> [--enable-time-skipping]`. */
export const TEST_SERVER_VERSION = '1.31.0';
const TEST_SERVER_ARTIFACT = { groupId: 'io.temporal', artifactId: 'temporal-test-server' };
const TEST_SERVER_MAIN_CLASS = 'io.temporal.testserver.TestServer';
const LAUNCHER_NAME = 'temporal-test-server';

interface ResolvedTestServer {
  executable: EphemeralServerExecutable;
  origin: 'TEMPORAL_TEST_SERVER_PATH' | 'cache' | 'maven' | 'SDK download';
}

export function cachedTestServerPath(env: NodeJS.ProcessEnv): string {
  return path.join(cacheRoot(env), 'temporal-test-server', TEST_SERVER_VERSION, LAUNCHER_NAME);
}

/**
 * Finds the time-skipping test server: `$TEMPORAL_TEST_SERVER_PATH`, then the per-version cache, then a Maven build
 * of the Java test server into that cache (its jars plus a launcher the SDK starts as an `existing-path`
 * executable). Without Maven and Java it falls back to the SDK's own download.
 */
export async function resolveTestServer(options: {
  env: NodeJS.ProcessEnv;
  onProgress: (line: string) => void;
}): Promise<ResolvedTestServer> {
  const { env, onProgress } = options;
  const explicit = explicitExecutable(env, 'TEMPORAL_TEST_SERVER_PATH');
  if (explicit) return { executable: { type: 'existing-path', path: explicit }, origin: 'TEMPORAL_TEST_SERVER_PATH' };
  const cached = cachedTestServerPath(env);
  if (isExecutable(cached)) return { executable: { type: 'existing-path', path: cached }, origin: 'cache' };

  const mvn = findOnPath('mvn', env);
  const java = findOnPath('java', env);
  if (mvn && java) {
    await buildWithMaven(mvn, java, path.dirname(cached), env, onProgress);
    return { executable: { type: 'existing-path', path: cached }, origin: 'maven' };
  }
  onProgress(`no ${mvn ? 'java' : 'mvn'} found: the Temporal SDK will download its own test server build`);
  return { executable: sdkDownload(env), origin: 'SDK download' };
}

async function buildWithMaven(
  mvn: string,
  java: string,
  destination: string,
  env: NodeJS.ProcessEnv,
  onProgress: (line: string) => void,
): Promise<void> {
  const what = `the Temporal test server ${TEST_SERVER_VERSION}`;
  onProgress(`fetching ${what} and its dependencies with ${mvn}`);
  await buildIntoCache(destination, LAUNCHER_NAME, what, onProgress, async (buildDir) => {
    writeFileSync(path.join(buildDir, 'pom.xml'), launcherPom());
    await runBuildTool(
      mvn,
      [
        '-q',
        '-B',
        '-Dstyle.color=never',
        '-f',
        path.join(buildDir, 'pom.xml'),
        'dependency:copy-dependencies',
        '-DoutputDirectory=lib',
      ],
      { env, onProgress, label: 'mvn' },
    );
    writeFileSync(path.join(buildDir, LAUNCHER_NAME), launcherScript(java), { mode: 0o755 });
  });
}

function launcherPom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mailmend.local</groupId>
  <artifactId>temporal-test-server-launcher</artifactId>
  <version>${TEST_SERVER_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${TEST_SERVER_ARTIFACT.groupId}</groupId>
      <artifactId>${TEST_SERVER_ARTIFACT.artifactId}</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

// exec, so that the SDK's kill on teardown reaches the JVM itself.
function launcherScript(java: string): string {
  return `#!/bin/sh
exec '${java.replaceAll("'", `'\\''`)}' -cp "$(dirname "$0")/lib/*" ${TEST_SERVER_MAIN_CLASS} "$@"
`;
}
