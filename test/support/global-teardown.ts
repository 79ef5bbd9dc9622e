export default async function globalTeardown(): Promise<void> {
  const server = globalThis.sharedTemporalServer;
  globalThis.sharedTemporalServer = undefined;
  await server?.stop();
}
