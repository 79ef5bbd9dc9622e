import type { AlertPayload } from '../../workflows/messages';
import type { RaisedAlert } from '../incidents';

/** Sends one server's alerts, in order, as one signal; resolves with what Temporal did with them. */
export type DeliverAlerts = (serverId: string, alerts: AlertPayload[]) => Promise<RaisedAlert>;

export interface AlertLanesOptions {
  deliver: DeliverAlerts;
  /** An alert identical to one Temporal took within this window is not signalled again. */
  collapseWindowMs: number;
  /** At most this many alerts go in one signal, so a payload stays far below Temporal's size limits. */
  maxAlertsPerSignal?: number;
  now?: () => number;
}

/** What became of one alert: signalled (alone or with others), or collapsed into an identical one. */
export interface LaneOutcome {
  raised: RaisedAlert;
  collapsed: boolean;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // A sender that gave up at its deadline no longer listens; the failure still reaches those who do.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface QueuedAlert {
  key: string;
  alert: AlertPayload;
  occurrences: number;
  delivered: Deferred<RaisedAlert>;
}

interface Lane {
  queue: QueuedAlert[];
  queuedByKey: Map<string, QueuedAlert>;
  inFlight: Map<string, Promise<RaisedAlert>>;
  delivered: Map<string, { at: number; raised: RaisedAlert; repeatsSince: number }>;
  /** Repeats collapsed within a window that has passed: the next signal of that alert carries them. */
  owedRepeats: Map<string, number>;
  sending: boolean;
}

const DEFAULT_MAX_ALERTS_PER_SIGNAL = 100;

/**
 * One lane per server: alerts queue in the order they arrive and leave as batches, one signal at a time, so a storm
 * costs a signal per batch rather than per alert, and the incident sees them in order. Lanes of different servers
 * run concurrently. An alert identical (source, fingerprint or name, status) to one queued, in flight, or delivered
 * within the collapse window is not signalled again; its occurrence rides on the next signal of that alert.
 *
 * The cache is per process: a second webhook replica may signal the same alert once more, which the incident only
 * counts. A failed signal delivers nothing and caches nothing, so the sender's retry sends it again.
 */
export class AlertLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly maxAlertsPerSignal: number;
  private readonly now: () => number;

  constructor(private readonly options: AlertLanesOptions) {
    this.maxAlertsPerSignal = options.maxAlertsPerSignal ?? DEFAULT_MAX_ALERTS_PER_SIGNAL;
    this.now = options.now ?? Date.now;
  }

  /** Queues a server's alerts in order; each promise settles once Temporal holds that alert, or a copy of it. */
  submit(serverId: string, alerts: AlertPayload[]): Promise<LaneOutcome>[] {
    const lane = this.laneOf(serverId);
    this.forgetExpired(lane);
    const outcomes = alerts.map((alert) => this.enqueue(lane, alert));
    this.pump(serverId, lane);
    return outcomes;
  }

  private enqueue(lane: Lane, alert: AlertPayload): Promise<LaneOutcome> {
    const key = collapseKey(alert);
    const delivered = lane.delivered.get(key);
    if (delivered) {
      delivered.repeatsSince += 1;
      return Promise.resolve({ raised: delivered.raised, collapsed: true });
    }
    const queued = lane.queuedByKey.get(key);
    if (queued) {
      queued.occurrences += 1;
      return queued.delivered.promise.then((raised) => ({ raised, collapsed: true }));
    }
    const inFlight = lane.inFlight.get(key);
    if (inFlight) return inFlight.then((raised) => ({ raised, collapsed: true }));
    const fresh: QueuedAlert = { key, alert, occurrences: 1 + (lane.owedRepeats.get(key) ?? 0), delivered: deferred() };
    lane.owedRepeats.delete(key);
    lane.queue.push(fresh);
    lane.queuedByKey.set(key, fresh);
    return fresh.delivered.promise.then((raised) => ({ raised, collapsed: false }));
  }

  private pump(serverId: string, lane: Lane): void {
    if (lane.sending || lane.queue.length === 0) return;
    lane.sending = true;
    void this.drain(serverId, lane).finally(() => {
      lane.sending = false;
      if (lane.queue.length > 0) this.pump(serverId, lane);
      else if (lane.delivered.size === 0 && lane.owedRepeats.size === 0) this.lanes.delete(serverId);
    });
  }

  private async drain(serverId: string, lane: Lane): Promise<void> {
    while (lane.queue.length > 0) {
      const batch = lane.queue.splice(0, this.maxAlertsPerSignal);
      for (const item of batch) {
        lane.queuedByKey.delete(item.key);
        lane.inFlight.set(item.key, item.delivered.promise);
      }
      const alerts = batch.map((item) => withOccurrences(item.alert, item.occurrences));
      try {
        const raised = await this.options.deliver(serverId, alerts);
        const at = this.now();
        for (const item of batch) {
          lane.delivered.set(item.key, { at, raised, repeatsSince: 0 });
          item.delivered.resolve(raised);
        }
      } catch (error) {
        for (const item of batch) item.delivered.reject(error);
      } finally {
        for (const item of batch) lane.inFlight.delete(item.key);
      }
    }
  }

  private laneOf(serverId: string): Lane {
    let lane = this.lanes.get(serverId);
    if (!lane) {
      lane = {
        queue: [],
        queuedByKey: new Map(),
        inFlight: new Map(),
        delivered: new Map(),
        owedRepeats: new Map(),
        sending: false,
      };
      this.lanes.set(serverId, lane);
    }
    return lane;
  }

  /** A repeat after the window is signalled again, carrying the repeats collapsed since the last signal. */
  private forgetExpired(lane: Lane): void {
    const oldest = this.now() - this.options.collapseWindowMs;
    for (const [key, delivered] of lane.delivered) {
      if (delivered.at > oldest) continue;
      lane.delivered.delete(key);
      if (delivered.repeatsSince > 0) {
        lane.owedRepeats.set(key, (lane.owedRepeats.get(key) ?? 0) + delivered.repeatsSince);
      }
    }
  }
}

function collapseKey(alert: AlertPayload): string {
  return JSON.stringify([alert.source, alert.fingerprint ?? `name:${alert.alertName}`, alert.status]);
}

function withOccurrences(alert: AlertPayload, occurrences: number): AlertPayload {
  return occurrences > 1 ? { ...alert, occurrences } : alert;
}
