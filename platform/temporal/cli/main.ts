import { cliVersion, resolveTemporalCli } from './resolve';

/** `npm run temporal:cli`: makes sure the Temporal CLI is available and prints where it is. */
async function main(): Promise<void> {
  const started = Date.now();
  const resolved = await resolveTemporalCli({ env: process.env, onProgress: (line) => console.error(line) });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (resolved.executable.type === 'existing-path') {
    const version = cliVersion(resolved.executable.path) ?? 'unknown version';
    console.log(`${resolved.executable.path} (${version}; from ${resolved.origin} in ${seconds}s)`);
  } else {
    console.log(`the SDK will download the CLI into ${resolved.executable.downloadDir ?? 'a temp dir'}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
