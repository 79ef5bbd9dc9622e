import type { AlertPayload, AlertRecord, IncidentState } from './messages';

/** Distinct alerts an incident keeps records of; occurrences of any further ones are only counted. */
export const ALERT_RECORD_LIMIT = 200;
const NAMES_IN_ONE_ENTRY = 5;

/** Labels an alert record keeps, and how long each value may be, so a carried-over state stays small. */
const LABELS_KEPT = 24;
const LABEL_VALUE_KEPT = 200;

/**
 * Same source and fingerprint, or, without a fingerprint, the same name and labels (what Alertmanager's fingerprint
 * hashes): repeats of one alert, whatever its status. Two alerts differing only in `mailbox` stay apart.
 */
function isRecordOf(record: AlertRecord, alert: AlertPayload): boolean {
  if (record.source !== alert.source) return false;
  if (record.fingerprint !== undefined || alert.fingerprint !== undefined) {
    return record.fingerprint === alert.fingerprint;
  }
  return record.alertName === alert.alertName && sameLabels(record.labels, keptLabels(alert.labels));
}

function sameLabels(held: Record<string, string>, incoming: Record<string, string>): boolean {
  const heldNames = Object.keys(held);
  return heldNames.length === Object.keys(incoming).length && heldNames.every((name) => held[name] === incoming[name]);
}

function keptLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels)
      .slice(0, LABELS_KEPT)
      .map(([name, value]) => [
        name,
        value.length > LABEL_VALUE_KEPT ? `${value.slice(0, LABEL_VALUE_KEPT - 1)}…` : value,
      ]),
  );
}

function recordOf(alert: AlertPayload, occurrences: number, now: string): AlertRecord {
  return {
    source: alert.source,
    alertName: alert.alertName,
    status: alert.status,
    count: occurrences,
    firstSeenAt: now,
    lastSeenAt: now,
    labels: keptLabels(alert.labels),
    ...(alert.fingerprint !== undefined ? { fingerprint: alert.fingerprint } : {}),
    ...(alert.startsAt !== undefined ? { startsAt: alert.startsAt } : {}),
    ...(alert.summary !== undefined ? { summary: alert.summary } : {}),
    ...(alert.mailbox !== undefined ? { mailbox: alert.mailbox } : {}),
  };
}

/**
 * Counts the alerts into the incident's records and returns the news among them: an alert not seen before, or one
 * whose status changed. Repeats only raise a count, so a storm of resends costs one record per distinct alert.
 */
export function foldAlerts(state: IncidentState, alerts: AlertPayload[], now: string): AlertPayload[] {
  const news: AlertPayload[] = [];
  for (const alert of alerts) {
    const occurrences = Math.max(1, alert.occurrences ?? 1);
    state.alertsReceived += occurrences;
    const record = state.alerts.find((held) => isRecordOf(held, alert));
    if (record) {
      record.count += occurrences;
      record.lastSeenAt = now;
      if (record.status !== alert.status) {
        record.status = alert.status;
        news.push(alert);
      }
    } else if (state.alerts.length < ALERT_RECORD_LIMIT) {
      state.alerts.push(recordOf(alert, occurrences, now));
      news.push(alert);
    } else {
      state.alertsUntracked = (state.alertsUntracked ?? 0) + occurrences;
    }
  }
  return news;
}

/** One timeline entry for the news of one signal, however many alerts it carried. */
export function describeAlertNews(news: AlertPayload[]): { event: string; outcome: string; actor: string } {
  const [first] = news;
  if (news.length === 1 && first) {
    return {
      event: `alert ${first.status}: ${first.alertName}`,
      outcome: first.summary ?? 'recorded',
      actor: first.source,
    };
  }
  const firing = news.filter((alert) => alert.status === 'firing').length;
  const names = news.slice(0, NAMES_IN_ONE_ENTRY).map((alert) => `${alert.alertName} (${alert.status})`);
  const more = news.length - names.length;
  return {
    event: `${news.length} alerts: ${firing} firing, ${news.length - firing} resolved`,
    outcome: `${names.join(', ')}${more > 0 ? ` and ${more} more` : ''}`,
    actor: first?.source ?? 'mailmend',
  };
}
