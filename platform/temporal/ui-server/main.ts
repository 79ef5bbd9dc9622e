import { resolveTemporalUiServer } from './resolve';

/** `npm run temporal:ui-server`: makes sure the Temporal Web UI server is built, and prints where it is. */
async function main(): Promise<void> {
  const started = Date.now();
  const resolved = await resolveTemporalUiServer({ env: process.env, onProgress: (line) => console.error(line) });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${resolved.executable} (from ${resolved.origin} in ${seconds}s)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
