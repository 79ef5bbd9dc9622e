import { resolveTemporalServer } from './resolve';

/** `npm run temporal:server`: makes sure the Temporal server and its SQL tool are built, and prints where they are. */
async function main(): Promise<void> {
  const started = Date.now();
  const resolved = await resolveTemporalServer({ env: process.env, onProgress: (line) => console.error(line) });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${resolved.server} and ${resolved.sqlTool} (from ${resolved.origin} in ${seconds}s)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
