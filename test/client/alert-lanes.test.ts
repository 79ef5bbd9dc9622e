import { AlertLanes, type DeliverAlerts } from '../../client/webhook/alert-lanes';
import type { RaisedAlert } from '../../client/incidents';
import type { AlertPayload } from '../../workflows/messages';

const RAISED: RaisedAlert = { workflowId: 'incident-mx1', runId: 'run-1', delivered: 'opened-or-joined' };

function alert(overrides: Partial<AlertPayload> = {}): AlertPayload {
  return {
    source: 'alertmanager',
    status: 'firing',
    alertName: 'MailboxDown',
    fingerprint: 'f1',
    labels: { alertname: 'MailboxDown' },
    receivedAt: '2030-01-01T00:00:00Z',
    ...overrides,
  };
}

/** Lanes whose deliveries are recorded, and settle only when the test says so when `manual` is set. */
function recordingLanes(options: { manual?: boolean; now?: () => number; maxBytesPerSignal?: number } = {}) {
  const sent: AlertPayload[][] = [];
  const pending: (() => void)[] = [];
  const deliver: DeliverAlerts = async (_serverId, alerts) => {
    sent.push(alerts);
    if (options.manual) await new Promise<void>((resolve) => pending.push(resolve));
    return RAISED;
  };
  const lanes = new AlertLanes({
    deliver,
    collapseWindowMs: 60_000,
    settleDelayMs: 20,
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxBytesPerSignal ? { maxBytesPerSignal: options.maxBytesPerSignal } : {}),
  });
  return { lanes, sent, release: () => pending.shift()?.() };
}

const statuses = (sent: AlertPayload[][]) => sent.map((batch) => batch.map((item) => item.status));

describe('alert lanes', () => {
  test('a repeat within the window is collapsed, and counted in the next signal after the window', async () => {
    let now = 0;
    const { lanes, sent } = recordingLanes({ now: () => now });
    await Promise.all(lanes.submit('mx1', [alert()]));
    const repeats = await Promise.all(lanes.submit('mx1', [alert(), alert()]));
    expect(repeats.map((outcome) => outcome.collapsed)).toEqual([true, true]);
    now = 61_000;
    await Promise.all(lanes.submit('mx1', [alert()]));
    expect(sent.map((batch) => batch.map((item) => item.occurrences ?? 1))).toEqual([[1], [3]]);
  });

  test('repeats that arrive while the signal is in flight are counted too, as in a storm', async () => {
    let now = 0;
    const { lanes, sent, release } = recordingLanes({ manual: true, now: () => now });
    const first = lanes.submit('mx1', [alert()]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(1);
    const whileInFlight = lanes.submit('mx1', [alert(), alert(), alert(), alert()]);
    release();
    await Promise.all([...first, ...whileInFlight]);
    now = 61_000;
    const next = lanes.submit('mx1', [alert()]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all(next);
    expect(sent.map((batch) => batch.map((item) => item.occurrences ?? 1))).toEqual([[1], [5]]);
  });

  test('a flip back within the window is collapsed, and the latest status is signalled once the lane settles', async () => {
    const { lanes, sent } = recordingLanes();
    const collapsed: boolean[] = [];
    for (const status of ['firing', 'resolved', 'firing', 'resolved', 'firing'] as const) {
      const [outcome] = lanes.submit('mx1', [alert({ status })]);
      collapsed.push((await outcome)?.collapsed ?? false);
    }
    expect(collapsed).toEqual([false, false, true, true, true]);
    expect(statuses(sent)).toEqual([['firing'], ['resolved']]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await lanes.idle();
    expect(statuses(sent)).toEqual([['firing'], ['resolved'], ['firing']]);
  });

  test('flapping while queued ends with the latest status', async () => {
    const { lanes, sent, release } = recordingLanes({ manual: true });
    const first = lanes.submit('mx1', [alert({ fingerprint: 'other' })]);
    const queued = lanes.submit('mx1', [alert(), alert({ status: 'resolved' }), alert(), alert()]);
    release();
    await Promise.all(first);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const outcomes = await Promise.all(queued);
    expect(statuses(sent)).toEqual([['firing'], ['firing', 'resolved']]);
    expect(sent[1]?.map((item) => item.occurrences ?? 1)).toEqual([3, 1]);
    expect(outcomes.map((outcome) => outcome.collapsed)).toEqual([false, false, true, true]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await lanes.idle();
    expect(statuses(sent)).toEqual([['firing'], ['firing', 'resolved'], ['firing']]);
  });

  test('alerts without a fingerprint that differ in a label are two alerts', async () => {
    const { lanes, sent } = recordingLanes();
    const alice = alert({ fingerprint: undefined, labels: { alertname: 'MailboxDown', mailbox: 'alice' } });
    const bob = alert({ fingerprint: undefined, labels: { alertname: 'MailboxDown', mailbox: 'bob' } });
    delete alice.fingerprint;
    delete bob.fingerprint;
    const outcomes = await Promise.all(lanes.submit('mx1', [alice, bob, { ...alice }]));
    expect(outcomes.map((outcome) => outcome.collapsed)).toEqual([false, false, true]);
    expect(sent.flat().map((item) => item.labels.mailbox)).toEqual(['alice', 'bob']);
  });

  test('a batch is sent only once the one before it has settled, and large alerts are split by size', async () => {
    const { lanes, sent, release } = recordingLanes({ manual: true, maxBytesPerSignal: 2_500 });
    const big = (index: number) => alert({ fingerprint: `f${index}`, summary: 'x'.repeat(900) });
    const outcomes = lanes.submit('mx1', [big(1), big(2), big(3)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(1);
    release();
    await outcomes[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(2);
    release();
    await Promise.all(outcomes);
    expect(sent.map((batch) => batch.map((item) => item.fingerprint))).toEqual([['f1', 'f2'], ['f3']]);
  });

  test('a failed delivery caches nothing: the retry sends the alert again', async () => {
    let fail = true;
    const sent: number[] = [];
    const lanes = new AlertLanes({
      collapseWindowMs: 60_000,
      settleDelayMs: 20,
      deliver: async (_serverId, alerts) => {
        sent.push(alerts.length);
        if (fail) throw new Error('Temporal is down');
        return RAISED;
      },
    });
    await expect(Promise.all(lanes.submit('mx1', [alert()]))).rejects.toThrow('Temporal is down');
    fail = false;
    const [retried] = await Promise.all(lanes.submit('mx1', [alert()]));
    expect(retried?.collapsed).toBe(false);
    expect(sent).toEqual([1, 1]);
    await lanes.idle();
  });
});
