import type { AlertPayload } from '../../workflows/messages';
import type { RaisedAlert } from '../incidents';

/** Sends one server's alerts, in order, as one signal; resolves with what Temporal did with them. */
export type DeliverAlerts = (serverId: string, alerts: AlertPayload[]) => Promise<RaisedAlert>;

export interface AlertLanesOptions {
  /** Must settle only once the call to Temporal has: the next batch waits for it, so batches never overtake. */
  deliver: DeliverAlerts;
  /** An alert identical to one Temporal took within this window is not signalled again. */
  collapseWindowMs: number;
  /** At most this many alerts go in one signal, and at most this many bytes of them. */
  maxAlertsPerSignal?: number;
  maxBytesPerSignal?: number;
  /** How long a flapping alert may show an older status in its incident before its latest one is signalled. */
  settleDelayMs?: number;
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
  identity: string;
  key: string;
  alert: AlertPayload;
  occurrences: number;
  delivered: Deferred<RaisedAlert>;
}

interface Lane {
  queue: QueuedAlert[];
  queuedByKey: Map<string, QueuedAlert>;
  inFlight: Map<string, Promise<RaisedAlert>>;
  /** Copies that arrived while their alert's signal was in flight: counted once it is delivered. */
  inFlightRepeats: Map<string, number>;
  delivered: Map<string, { at: number; raised: RaisedAlert; repeatsSince: number }>;
  /** The status each alert last arrived with, and the last one queued to be signalled. */
  latestStatus: Map<string, AlertPayload['status']>;
  queuedStatus: Map<string, AlertPayload['status']>;
  /** Flips collapsed into an older copy: once the lane settles, the latest status is signalled if it is not yet. */
  unsettled: Map<string, AlertPayload>;
  settleTimer: NodeJS.Timeout | undefined;
  /** Repeats collapsed within a window that has passed: the next signal of that alert carries them. */
  owedRepeats: Map<string, { count: number; since: number }>;
  sending: boolean;
}

const DEFAULT_MAX_ALERTS_PER_SIGNAL = 100;
/** How long a flapping alert may show an older status in its incident: flips within it cost one signal, not one each. */
const SETTLE_DELAY_MS = 5_000;
/** Far below Temporal's 2 MB payload limit, whatever the labels hold. */
const DEFAULT_MAX_BYTES_PER_SIGNAL = 256 * 1024;
/** Repeats owed this long are dropped rather than credited to whichever incident is open next. */
const OWED_REPEATS_TTL_MS = 60 * 60_000;

/**
 * One lane per server: alerts queue in the order they arrive and leave as batches, one signal at a time, so a storm
 * costs a signal per batch rather than per alert, and the incident sees them in order. Lanes of different servers
 * run concurrently. An alert identical (source, fingerprint or labels, status) to a copy queued, in flight, or
 * delivered within the collapse window is not signalled again; its occurrence rides on the next signal of that alert.
 * A flapping alert's flips back to a status already held are collapsed too, and once the lane has settled for a few
 * seconds its latest status is signalled if the incident does not have it yet: a storm of flips costs a few signals,
 * and the incident never keeps a status the alert no longer has.
 *
 * The cache is per process: a second webhook replica may signal the same alert once more, which the incident only
 * counts. A failed signal caches nothing, so the sender's retry sends it again.
 */
export class AlertLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly maxAlertsPerSignal: number;
  private readonly maxBytesPerSignal: number;
  private readonly now: () => number;
  private lastSweepAt = 0;
  private readonly draining = new Set<Promise<void>>();

  constructor(private readonly options: AlertLanesOptions) {
    this.maxAlertsPerSignal = options.maxAlertsPerSignal ?? DEFAULT_MAX_ALERTS_PER_SIGNAL;
    this.maxBytesPerSignal = options.maxBytesPerSignal ?? DEFAULT_MAX_BYTES_PER_SIGNAL;
    this.now = options.now ?? Date.now;
  }

  /** Queues a server's alerts in order; each promise settles once Temporal holds that alert, or a copy of it. */
  submit(serverId: string, alerts: AlertPayload[]): Promise<LaneOutcome>[] {
    this.sweep();
    const lane = this.laneOf(serverId);
    const outcomes = alerts.map((alert) => this.enqueue(serverId, lane, alert));
    this.pump(serverId, lane);
    return outcomes;
  }

  private enqueue(serverId: string, lane: Lane, alert: AlertPayload): Promise<LaneOutcome> {
    const identity = identityOf(alert);
    const key = JSON.stringify([identity, alert.status]);
    const previous = lane.latestStatus.get(identity);
    lane.latestStatus.set(identity, alert.status);
    const copy = this.collapseIntoCopy(lane, key);
    if (copy) {
      // A flip back to a status Temporal holds costs nothing now; the incident learns the latest status on settling.
      if (previous !== undefined && previous !== alert.status) this.settleLater(serverId, lane, identity, alert);
      return copy;
    }
    return this.queueFresh(lane, identity, key, alert);
  }

  /** The outcome of the copy this alert repeats, queued, in flight or delivered within the window, if there is one. */
  private collapseIntoCopy(lane: Lane, key: string): Promise<LaneOutcome> | undefined {
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
    if (!inFlight) return undefined;
    lane.inFlightRepeats.set(key, (lane.inFlightRepeats.get(key) ?? 0) + 1);
    return inFlight.then((raised) => ({ raised, collapsed: true }));
  }

  private queueFresh(lane: Lane, identity: string, key: string, alert: AlertPayload): Promise<LaneOutcome> {
    const owed = lane.owedRepeats.get(key)?.count ?? 0;
    lane.owedRepeats.delete(key);
    const fresh: QueuedAlert = { identity, key, alert, occurrences: 1 + owed, delivered: deferred() };
    lane.queue.push(fresh);
    lane.queuedByKey.set(key, fresh);
    lane.queuedStatus.set(identity, alert.status);
    return fresh.delivered.promise.then((raised) => ({ raised, collapsed: false }));
  }

  private settleLater(serverId: string, lane: Lane, identity: string, alert: AlertPayload): void {
    lane.unsettled.set(identity, alert);
    if (lane.settleTimer) return;
    lane.settleTimer = setTimeout(
      () => {
        lane.settleTimer = undefined;
        for (const [unsettledIdentity, latest] of lane.unsettled) {
          if (lane.queuedStatus.get(unsettledIdentity) === latest.status) continue;
          const key = JSON.stringify([unsettledIdentity, latest.status]);
          lane.delivered.delete(key);
          void this.queueFresh(lane, unsettledIdentity, key, latest).catch(() => undefined);
        }
        lane.unsettled.clear();
        this.pump(serverId, lane);
      },
      this.options.settleDelayMs ?? Math.min(SETTLE_DELAY_MS, this.options.collapseWindowMs),
    );
    lane.settleTimer.unref();
  }

  private pump(serverId: string, lane: Lane): void {
    if (lane.sending || lane.queue.length === 0) return;
    lane.sending = true;
    const drained: Promise<void> = this.drain(serverId, lane).finally(() => {
      this.draining.delete(drained);
      lane.sending = false;
      this.pump(serverId, lane);
    });
    this.draining.add(drained);
  }

  /** Resolves once no lane is sending: the webhook closes its Temporal connection only after that. */
  async idle(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining]);
  }

  private async drain(serverId: string, lane: Lane): Promise<void> {
    while (lane.queue.length > 0) {
      const batch = this.nextBatch(lane);
      for (const item of batch) {
        if (lane.queuedByKey.get(item.key) === item) lane.queuedByKey.delete(item.key);
        lane.inFlight.set(item.key, item.delivered.promise);
      }
      try {
        const raised = await this.options.deliver(
          serverId,
          batch.map((item) => withOccurrences(item.alert, item.occurrences)),
        );
        const at = this.now();
        for (const item of batch) {
          lane.delivered.set(item.key, { at, raised, repeatsSince: lane.inFlightRepeats.get(item.key) ?? 0 });
          item.delivered.resolve(raised);
        }
      } catch (error) {
        for (const item of batch) item.delivered.reject(error);
      } finally {
        for (const item of batch) {
          if (lane.inFlight.get(item.key) !== item.delivered.promise) continue;
          // After a failure the repeats' senders get the error and retry, so nothing is owed for them.
          lane.inFlight.delete(item.key);
          lane.inFlightRepeats.delete(item.key);
        }
      }
    }
  }

  /** The queue's head, up to the count and size limits; always at least one alert. */
  private nextBatch(lane: Lane): QueuedAlert[] {
    let bytes = 0;
    let count = 0;
    for (const item of lane.queue) {
      const size = JSON.stringify(item.alert).length;
      if (count > 0 && (count >= this.maxAlertsPerSignal || bytes + size > this.maxBytesPerSignal)) break;
      bytes += size;
      count += 1;
    }
    return lane.queue.splice(0, count);
  }

  private laneOf(serverId: string): Lane {
    let lane = this.lanes.get(serverId);
    if (!lane) {
      lane = {
        queue: [],
        queuedByKey: new Map(),
        inFlight: new Map(),
        inFlightRepeats: new Map(),
        delivered: new Map(),
        latestStatus: new Map(),
        queuedStatus: new Map(),
        unsettled: new Map(),
        settleTimer: undefined,
        owedRepeats: new Map(),
        sending: false,
      };
      this.lanes.set(serverId, lane);
    }
    return lane;
  }

  /**
   * Once per window, over every lane: a delivered copy older than the window no longer collapses anything, and its
   * repeats are owed to the next signal of that alert; stale debts and idle lanes are dropped.
   */
  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweepAt < this.options.collapseWindowMs) return;
    this.lastSweepAt = now;
    const oldest = now - this.options.collapseWindowMs;
    for (const [serverId, lane] of this.lanes) {
      for (const [key, delivered] of lane.delivered) {
        if (delivered.at > oldest) continue;
        lane.delivered.delete(key);
        if (delivered.repeatsSince > 0) {
          const owed = lane.owedRepeats.get(key);
          lane.owedRepeats.set(key, { count: (owed?.count ?? 0) + delivered.repeatsSince, since: owed?.since ?? now });
        }
      }
      for (const [key, owed] of lane.owedRepeats) {
        if (owed.since <= now - OWED_REPEATS_TTL_MS) lane.owedRepeats.delete(key);
      }
      const idle = !lane.sending && lane.queue.length === 0 && lane.inFlight.size === 0 && !lane.settleTimer;
      if (idle && lane.delivered.size === 0 && lane.owedRepeats.size === 0) this.lanes.delete(serverId);
    }
  }
}

/** Which alert this is, whatever its status: the fingerprint, or the name and labels it hashes. */
function identityOf(alert: AlertPayload): string {
  const labels = Object.entries(alert.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([alert.source, alert.fingerprint ?? [alert.alertName, labels]]);
}

function withOccurrences(alert: AlertPayload, occurrences: number): AlertPayload {
  return occurrences > 1 ? { ...alert, occurrences } : alert;
}
