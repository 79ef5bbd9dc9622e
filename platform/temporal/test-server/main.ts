import { resolveTestServer } from './resolve';

/** `npm run temporal:test-server`: makes sure the time-skipping test server is available and prints where it is. */
async function main(): Promise<void> {
  const started = Date.now();
  const resolved = await resolveTestServer({ env: process.env, onProgress: (line) => console.error(line) });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const where =
    resolved.executable.type === 'existing-path'
      ? resolved.executable.path
      : `the SDK's download into ${resolved.executable.downloadDir ?? 'a temp dir'}`;
  console.log(`${where} (from ${resolved.origin} in ${seconds}s)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
