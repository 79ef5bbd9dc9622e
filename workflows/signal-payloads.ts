import type {
  AlertBatch,
  AlertPayload,
  ApproveSignal,
  CloseSignal,
  ConfirmSignal,
  NoteSignal,
  RejectSignal,
  SetEtaSignal,
} from './messages';

// Signals arrive from the Temporal UI and the CLI as whatever JSON someone typed. A handler that throws fails the
// workflow task on every replay and wedges the incident, so each payload is checked here first and a bad one is
// described instead of used.

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const NAME_LIMIT = 100;
const TEXT_LIMIT = 2_000;
const ALERT_SOURCES: readonly AlertPayload['source'][] = ['alertmanager', 'grafana', 'cli'];
/** `2030-01-01T10:00:00Z`: a date alone, or `"5"`, would be read as some other moment. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

class PayloadError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Control characters (NUL, escapes) never reach the timeline or the report. */
function clean(text: string, limit: number): string {
  const printable = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ').trim();
  return printable.length > limit ? `${printable.slice(0, limit - 1)}…` : printable;
}

function requiredText(payload: Record<string, unknown>, field: string, limit = TEXT_LIMIT): string {
  const value = payload[field];
  if (typeof value !== 'string') throw new PayloadError(`"${field}" must be text, got ${describe(value)}`);
  const text = clean(value, limit);
  if (text === '') throw new PayloadError(`"${field}" must not be empty`);
  return text;
}

function optionalText(payload: Record<string, unknown>, field: string, limit = TEXT_LIMIT): string | undefined {
  return payload[field] === undefined || payload[field] === null ? undefined : requiredText(payload, field, limit);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}

function parse<T>(raw: unknown, read: (payload: Record<string, unknown>) => T): Parsed<T> {
  if (!isRecord(raw)) return { ok: false, reason: `the payload must be a JSON object, got ${describe(raw)}` };
  try {
    return { ok: true, value: read(raw) };
  } catch (error) {
    if (error instanceof PayloadError) return { ok: false, reason: error.message };
    throw error;
  }
}

/** Who sent a payload, for the timeline even when the payload is refused. */
export function senderOf(raw: unknown): string {
  const by = isRecord(raw) ? raw.by : undefined;
  return typeof by === 'string' && clean(by, NAME_LIMIT) !== '' ? clean(by, NAME_LIMIT) : 'unknown sender';
}

export function parseApprove(raw: unknown): Parsed<ApproveSignal> {
  return parse(raw, (payload) => {
    const comment = optionalText(payload, 'comment');
    const actionId = optionalText(payload, 'actionId', NAME_LIMIT);
    return {
      by: requiredText(payload, 'by', NAME_LIMIT),
      ...(comment !== undefined ? { comment } : {}),
      ...(actionId !== undefined ? { actionId } : {}),
    };
  });
}

export function parseReject(raw: unknown): Parsed<RejectSignal> {
  return parse(raw, (payload) => ({
    by: requiredText(payload, 'by', NAME_LIMIT),
    reason: requiredText(payload, 'reason'),
  }));
}

export function parseConfirm(raw: unknown): Parsed<ConfirmSignal> {
  return parse(raw, (payload) => ({ by: requiredText(payload, 'by', NAME_LIMIT) }));
}

export function parseClose(raw: unknown): Parsed<CloseSignal> {
  return parse(raw, (payload) => ({
    by: requiredText(payload, 'by', NAME_LIMIT),
    reason: requiredText(payload, 'reason'),
  }));
}

export function parseNote(raw: unknown): Parsed<NoteSignal> {
  return parse(raw, (payload) => ({
    by: requiredText(payload, 'by', NAME_LIMIT),
    text: requiredText(payload, 'text'),
  }));
}

/** An ETA is a full ISO-8601 timestamp that lies ahead of `now`. */
export function parseSetEta(raw: unknown, now: number): Parsed<SetEtaSignal> {
  return parse(raw, (payload) => {
    const by = requiredText(payload, 'by', NAME_LIMIT);
    const eta = requiredText(payload, 'eta', NAME_LIMIT);
    if (!ISO_TIMESTAMP.test(eta) || Number.isNaN(Date.parse(eta))) {
      throw new PayloadError(`"eta" must be an ISO-8601 timestamp such as 2030-01-01T10:00:00Z, got "${eta}"`);
    }
    if (Date.parse(eta) <= now) throw new PayloadError(`"eta" ${eta} is in the past`);
    return { by, eta };
  });
}

function labelsOf(payload: Record<string, unknown>): Record<string, string> {
  const labels = payload.labels ?? {};
  if (!isRecord(labels)) throw new PayloadError(`"labels" must be an object, got ${describe(labels)}`);
  return Object.fromEntries(
    Object.entries(labels)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
      .map(([name, value]) => [clean(name, NAME_LIMIT), clean(value, TEXT_LIMIT)]),
  );
}

/** An alert as the webhook or a person sends it; an empty name becomes "unnamed alert" rather than a refusal. */
export function parseAlert(raw: unknown): Parsed<AlertPayload> {
  return parse(raw, (payload) => {
    const source = payload.source;
    if (!ALERT_SOURCES.includes(source as AlertPayload['source'])) {
      throw new PayloadError(`"source" must be one of ${ALERT_SOURCES.join(', ')}`);
    }
    const status = payload.status === 'resolved' ? 'resolved' : payload.status === 'firing' ? 'firing' : undefined;
    if (!status) throw new PayloadError('"status" must be "firing" or "resolved"');
    const name = typeof payload.alertName === 'string' ? clean(payload.alertName, NAME_LIMIT) : '';
    const optional = (field: string) => {
      const value = optionalText(payload, field);
      return value !== undefined ? { [field]: value } : {};
    };
    return {
      source: source as AlertPayload['source'],
      status,
      alertName: name || 'unnamed alert',
      labels: labelsOf(payload),
      receivedAt: requiredText(payload, 'receivedAt', NAME_LIMIT),
      ...optional('fingerprint'),
      ...optional('summary'),
      ...optional('mailbox'),
      ...optional('startsAt'),
      ...occurrencesOf(payload),
    };
  });
}

function occurrencesOf(payload: Record<string, unknown>): { occurrences?: number } {
  const value = payload.occurrences;
  if (value === undefined || value === null) return {};
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new PayloadError(`"occurrences" must be a whole number of at least 1, got ${JSON.stringify(value)}`);
  }
  return { occurrences: value };
}

/** A batch keeps its usable alerts and says what was wrong with the others. */
export function parseAlertBatch(raw: unknown): Parsed<AlertBatch & { problems: string[] }> {
  return parse(raw, (payload) => {
    if (!Array.isArray(payload.alerts))
      throw new PayloadError(`"alerts" must be a list, got ${describe(payload.alerts)}`);
    const alerts: AlertPayload[] = [];
    const problems: string[] = [];
    payload.alerts.forEach((item: unknown, index) => {
      const parsed = parseAlert(item);
      if (parsed.ok) alerts.push(parsed.value);
      else problems.push(`alert ${index + 1}: ${parsed.reason}`);
    });
    return { alerts, problems };
  });
}
