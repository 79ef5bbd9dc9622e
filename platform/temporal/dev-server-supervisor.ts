import type { Logger } from 'pino';
import { isProcessRunning } from './dev-server-process';
import type { EmbeddedServer } from './dev-server';

interface SupervisorOptions {
  logger: Logger;
  /** Called once when the server could not be restarted; mailmend is of no use without it. */
  onGiveUp: (error: Error) => void;
  checkIntervalMs?: number;
  /** Health checks failed in a row before a server whose process still runs counts as hung. */
  failedChecksBeforeRestart?: number;
  /** How long one health check waits: a server busy with a storm answers slowly, and is not hung. */
  healthTimeoutMs?: number;
  restartTimeoutMs?: number;
}

/** More restarts than this within the window is a crash loop, which the supervisor outside mailmend should see. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 10 * 60_000;

/**
 * Watches the embedded dev server and starts it again, on the same port and database file, when its process exits or
 * it stops answering health checks. The worker's and the webhook's connections find the new server by themselves. A
 * restart that fails (the port taken by someone else, say) or a crash loop ends in `onGiveUp`.
 *
 * @example
 * const supervisor = new DevServerSupervisor(server, { logger, onGiveUp: (error) => exitWith(error) });
 * // on shutdown
 * await supervisor.stop();
 */
export class DevServerSupervisor {
  private server: EmbeddedServer;
  private readonly logger: Logger;
  private readonly checkIntervalMs: number;
  private readonly failedChecksBeforeRestart: number;
  private readonly healthTimeoutMs: number;
  private readonly restartTimeoutMs: number;
  private failedChecks = 0;
  private readonly restartTimes: number[] = [];
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private watching: Promise<void> = Promise.resolve();

  constructor(
    server: EmbeddedServer,
    private readonly options: SupervisorOptions,
  ) {
    this.server = server;
    this.logger = options.logger.child({ component: 'temporal-dev-server', address: server.address });
    this.checkIntervalMs = options.checkIntervalMs ?? 1_000;
    this.failedChecksBeforeRestart = options.failedChecksBeforeRestart ?? 5;
    this.healthTimeoutMs = options.healthTimeoutMs ?? 3_000;
    this.restartTimeoutMs = options.restartTimeoutMs ?? 60_000;
    this.scheduleCheck();
  }

  /** The server running now; a restart replaces it on the same address. */
  get current(): EmbeddedServer {
    return this.server;
  }

  /** Stops watching, so a server that exits while mailmend shuts down (Ctrl-C reaches it too) stays down. */
  stopWatching(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Stops watching, lets a restart under way finish, and stops the server. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.watching;
    await this.server.stop();
  }

  private scheduleCheck(): void {
    this.timer = setTimeout(() => {
      this.watching = this.check().then(
        () => {
          if (!this.stopped) this.scheduleCheck();
        },
        (error: unknown) => this.giveUp(error),
      );
    }, this.checkIntervalMs);
  }

  private async check(): Promise<void> {
    const exited = this.server.pid !== undefined && !isProcessRunning(this.server.pid);
    if (!exited) this.failedChecks = (await this.server.isServing(this.healthTimeoutMs)) ? 0 : this.failedChecks + 1;
    if (this.stopped || (!exited && this.failedChecks < this.failedChecksBeforeRestart)) return;
    const reason = exited ? 'its process exited' : `it failed ${this.failedChecks} health checks in a row`;
    this.server = await this.restart(reason);
    this.failedChecks = 0;
  }

  private async restart(reason: string): Promise<EmbeddedServer> {
    this.assertNotCrashLooping();
    const gone = this.server;
    this.logger.warn({ pid: gone.pid, reason }, 'embedded Temporal server is down; restarting it on the same database');
    const restarting = gone.restart();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the restart did not finish within ${this.restartTimeoutMs} ms`)),
        this.restartTimeoutMs,
      );
    });
    try {
      const restarted = await Promise.race([restarting, timedOut]);
      this.logger.warn({ pid: restarted.pid }, 'embedded Temporal server restarted');
      return restarted;
    } catch (error) {
      // A server that comes up after the deadline would outlive mailmend, holding the port.
      void restarting.then((late) => late.stop()).catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private assertNotCrashLooping(): void {
    const now = Date.now();
    this.restartTimes.push(now);
    while ((this.restartTimes[0] ?? now) <= now - RESTART_WINDOW_MS) this.restartTimes.shift();
    if (this.restartTimes.length > MAX_RESTARTS) {
      throw new Error(
        `the embedded Temporal server went down ${this.restartTimes.length} times within ${RESTART_WINDOW_MS / 60_000} minutes`,
      );
    }
  }

  private giveUp(error: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    const cause = error instanceof Error ? error : new Error(String(error));
    this.logger.error({ err: cause }, 'embedded Temporal server could not be restarted');
    this.options.onGiveUp(cause);
  }
}
