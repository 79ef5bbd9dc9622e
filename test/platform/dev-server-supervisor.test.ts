import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pino from 'pino';
import { PortInUseError, type EmbeddedServer } from '../../platform/temporal/dev-server';
import { DevServerSupervisor } from '../../platform/temporal/dev-server-supervisor';

interface FakeServer extends EmbeddedServer {
  name: string;
  checks: number;
  stops: number;
}

/** A server whose health answers come from `serving`, and whose restart is `restart`. */
function fakeServer(
  name: string,
  serving: (check: number) => boolean,
  restart: () => Promise<EmbeddedServer>,
  pid?: number,
): FakeServer {
  const server: FakeServer = {
    name,
    address: '127.0.0.1:7233',
    ...(pid !== undefined ? { pid } : {}),
    checks: 0,
    stops: 0,
    isServing: async () => serving(++server.checks),
    restart,
    stop: async () => {
      server.stops += 1;
    },
  };
  return server;
}

function capturedLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({}, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const fast = { checkIntervalMs: 5, failedChecksBeforeRestart: 3 };

describe('DevServerSupervisor', () => {
  const supervisors: DevServerSupervisor[] = [];
  afterEach(async () => {
    await Promise.all(supervisors.splice(0).map((supervisor) => supervisor.stop()));
  });

  test('restarts a server after three failed health checks in a row, not after one', async () => {
    const { logger, lines } = capturedLogger();
    const restarted = fakeServer(
      'restarted',
      () => true,
      () => Promise.reject(new Error('not expected')),
    );
    let restarts = 0;
    // Check 2 fails alone; checks 4, 5 and 6 fail in a row.
    const first = fakeServer(
      'first',
      (check) => check !== 2 && check < 4,
      async () => {
        restarts += 1;
        return restarted;
      },
    );
    const supervisor = new DevServerSupervisor(first, { logger, onGiveUp: () => undefined, ...fast });
    supervisors.push(supervisor);

    await until('the restart', () => supervisor.current === restarted);

    expect(restarts).toBe(1);
    expect(first.checks).toBe(6);
    expect(
      lines.find((line) => line.msg === 'embedded Temporal server is down; restarting it on the same database'),
    ).toMatchObject({ level: 40, reason: 'it failed 3 health checks in a row', address: '127.0.0.1:7233' });
  });

  test('restarts at once when the server process has exited, without waiting for health checks to fail', async () => {
    const exited = spawn(process.execPath, ['-e', '']);
    await once(exited, 'exit');
    const { logger, lines } = capturedLogger();
    const restarted = fakeServer(
      'restarted',
      () => true,
      () => Promise.reject(new Error('not expected')),
    );
    const first = fakeServer(
      'first',
      () => true,
      async () => restarted,
      exited.pid,
    );
    const supervisor = new DevServerSupervisor(first, { logger, onGiveUp: () => undefined, ...fast });
    supervisors.push(supervisor);

    await until('the restart', () => supervisor.current === restarted);

    expect(first.checks).toBe(0);
    expect(lines.find((line) => line.reason !== undefined)).toMatchObject({
      pid: exited.pid,
      reason: 'its process exited',
    });
  });

  test('gives up once, with the cause, when the restart fails', async () => {
    const { logger, lines } = capturedLogger();
    const cause = new PortInUseError('127.0.0.1', 7233);
    const first = fakeServer(
      'first',
      () => false,
      () => Promise.reject(cause),
    );
    const givenUp: Error[] = [];
    const supervisor = new DevServerSupervisor(first, { logger, onGiveUp: (error) => givenUp.push(error), ...fast });
    supervisors.push(supervisor);

    await until('giving up', () => givenUp.length > 0);

    expect(givenUp).toEqual([cause]);
    expect(lines.find((line) => line.level === 50)).toMatchObject({
      msg: 'embedded Temporal server could not be restarted',
      err: {
        type: 'PortInUseError',
        message: '127.0.0.1:7233 is in use by another process, so the embedded Temporal server cannot listen there',
      },
    });
  });

  test('gives up on a crash loop: a sixth restart within ten minutes', async () => {
    const { logger } = capturedLogger();
    const servers: FakeServer[] = [];
    const dead = (): FakeServer => {
      const server = fakeServer(
        `dead-${servers.length}`,
        () => false,
        async () => dead(),
      );
      servers.push(server);
      return server;
    };
    const givenUp: Error[] = [];
    const supervisor = new DevServerSupervisor(dead(), { logger, onGiveUp: (error) => givenUp.push(error), ...fast });
    supervisors.push(supervisor);

    await until('giving up', () => givenUp.length > 0);

    expect(givenUp.map((error) => error.message)).toEqual([
      'the embedded Temporal server went down 6 times within 10 minutes',
    ]);
    expect(servers).toHaveLength(6);
  });

  test('stop waits for a restart under way, then stops the server it brought up', async () => {
    const { logger } = capturedLogger();
    const restarted = fakeServer(
      'restarted',
      () => true,
      () => Promise.reject(new Error('not expected')),
    );
    let finishRestart: (server: EmbeddedServer) => void = () => undefined;
    const first = fakeServer(
      'first',
      () => false,
      () => new Promise<EmbeddedServer>((resolve) => (finishRestart = resolve)),
    );
    const supervisor = new DevServerSupervisor(first, { logger, onGiveUp: () => undefined, ...fast });
    await until('the restart starting', () => first.checks === 3);

    const stopping = supervisor.stop();
    finishRestart(restarted);
    await stopping;

    expect(restarted.stops).toBe(1);
    expect(first.stops).toBe(0);
  });
});
