/**
 * Sets something up before the test file's (or the describe block's) tests and tears it down after them. The
 * returned function gives the value inside tests and hooks, and says so when it is read before `beforeAll` ran.
 *
 * @example const sshd = useForAllTests('the test sshd', startTestSshd, (running) => running.stop());
 */
export function useForAllTests<T>(
  name: string,
  setUp: () => Promise<T>,
  tearDown: (value: T) => Promise<void>,
): () => T {
  let value: T | undefined;
  beforeAll(async () => {
    value = await setUp();
  });
  afterAll(async () => {
    if (value !== undefined) await tearDown(value);
  });
  return () => {
    if (value === undefined) throw new Error(`${name} is set up in beforeAll: read it inside tests and hooks`);
    return value;
  };
}
