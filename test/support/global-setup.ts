import { resolveTemporalCli } from '../../platform/temporal/cli/resolve';
import { startEmbeddedServer, type EmbeddedServer } from '../../platform/temporal/dev-server';

declare global {
  var sharedTemporalServer: EmbeddedServer | undefined;
}

/** One real dev server for the whole run; tests that restart a server start their own. */
export default async function globalSetup(): Promise<void> {
  if (globalThis.sharedTemporalServer) return;
  const resolved = await resolveTemporalCli({ env: process.env, onProgress: (line) => console.log(line) });
  process.env.MAILMEND_TEST_TEMPORAL_EXECUTABLE = JSON.stringify(resolved.executable);
  const server = await startEmbeddedServer({ executable: resolved.executable });
  globalThis.sharedTemporalServer = server;
  process.env.MAILMEND_TEST_TEMPORAL_ADDRESS = server.address;
}
