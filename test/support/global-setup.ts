import { resolveTemporalCli } from '../../platform/temporal/cli/resolve';
import { startEmbeddedServer, type EmbeddedServer } from '../../platform/temporal/dev-server';
import { resolveTestServer } from '../../platform/temporal/test-server/resolve';

declare global {
  var sharedTemporalServer: EmbeddedServer | undefined;
}

/**
 * One real dev server for the whole run (tests that restart a server start their own), and the time-skipping test
 * server's executable for the timer tests, each of which starts its own.
 */
export default async function globalSetup(): Promise<void> {
  if (globalThis.sharedTemporalServer) return;
  const resolved = await resolveTemporalCli({ env: process.env, onProgress: (line) => console.log(line) });
  process.env.MAILMEND_TEST_TEMPORAL_EXECUTABLE = JSON.stringify(resolved.executable);
  const testServer = await resolveTestServer({ env: process.env, onProgress: (line) => console.log(line) });
  process.env.MAILMEND_TEST_TIME_SKIPPING_EXECUTABLE = JSON.stringify(testServer.executable);
  const server = await startEmbeddedServer({ executable: resolved.executable });
  globalThis.sharedTemporalServer = server;
  process.env.MAILMEND_TEST_TEMPORAL_ADDRESS = server.address;
}
