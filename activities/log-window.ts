// Which log lines belong to this incident. Syslog-style timestamps (`Nov 29 14:00:00`) carry neither year nor zone,
// so they are read in the host's own local time, as its `date` prints it, not the worker's.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SYSLOG_STAMP = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:\s|$)/;
const ISO_STAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?(?:\s|$)/;
const DAY_MS = 24 * 60 * 60_000;

/** The host's clock: what it says the time is, and its offset from UTC. */
export interface HostClock {
  now: Date;
  utcOffsetMinutes: number;
}

/** The argv that prints what `parseHostClock` reads. */
export const HOST_CLOCK_COMMAND = ['date', '+%Y-%m-%dT%H:%M:%S%z'];

/** Reads `date +%Y-%m-%dT%H:%M:%S%z` (`2026-11-29T14:16:37+0100`). */
export function parseHostClock(output: string): HostClock | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})([+-])(\d{2})(\d{2})$/.exec(output.trim());
  if (!match) return undefined;
  const minutes = (Number(match[3]) * 60 + Number(match[4])) * (match[2] === '-' ? -1 : 1);
  const now = new Date(Date.parse(`${match[1]}Z`) - minutes * 60_000);
  return Number.isNaN(now.getTime()) ? undefined : { now, utcOffsetMinutes: minutes };
}

function zoneMinutes(zone: string): number {
  if (zone === 'Z') return 0;
  const digits = zone.replace(':', '');
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  return digits.startsWith('-') ? -minutes : minutes;
}

function fromIso(match: RegExpExecArray, clock: HostClock): number {
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const local = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  const millis = fraction ? Math.round(Number(fraction) * 1000) : 0;
  return local + millis - (zone ? zoneMinutes(zone) : clock.utcOffsetMinutes) * 60_000;
}

function fromSyslog(match: RegExpExecArray, clock: HostClock): number | undefined {
  const [, monthName, day, hour, minute, second] = match;
  const month = MONTHS.indexOf(monthName ?? '');
  if (month < 0) return undefined;
  const hostLocalNow = new Date(clock.now.getTime() + clock.utcOffsetMinutes * 60_000);
  const at = (year: number) =>
    Date.UTC(year, month, Number(day), Number(hour), Number(minute), Number(second)) - clock.utcOffsetMinutes * 60_000;
  const thisYear = at(hostLocalNow.getUTCFullYear());
  // A December line read in January belongs to last year: no log line comes from more than a day ahead.
  return thisYear > clock.now.getTime() + DAY_MS ? at(hostLocalNow.getUTCFullYear() - 1) : thisYear;
}

/** When a log line was written, in milliseconds since the epoch, or undefined for a line without a timestamp. */
export function logLineTime(line: string, clock: HostClock): number | undefined {
  const iso = ISO_STAMP.exec(line);
  if (iso) return fromIso(iso, clock);
  const syslog = SYSLOG_STAMP.exec(line);
  return syslog ? fromSyslog(syslog, clock) : undefined;
}

/** A log line that falls inside the window, with when it was written. */
export interface WindowLine {
  at: number;
  text: string;
}

/**
 * The lines of a log written at or after `sinceMs` (host time). A line without a timestamp continues the line before
 * it; lines before the first timestamp are of unknown age and left out.
 */
export function linesInWindow(output: string, clock: HostClock, sinceMs: number): WindowLine[] {
  const kept: WindowLine[] = [];
  let current: number | undefined;
  for (const raw of output.split('\n')) {
    const text = raw.replace(/\r$/, '');
    if (text.trim() === '') continue;
    current = logLineTime(text, clock) ?? current;
    if (current !== undefined && current >= sinceMs) kept.push({ at: current, text });
  }
  return kept;
}

/**
 * The start of the window in host time: `windowMs` before the alert, shifted by how far the host's clock is from
 * the worker's (`workerNow` is when the host's `date` ran).
 */
export function windowStart(reference: Date, windowMs: number, clock: HostClock | undefined, workerNow: Date): number {
  const skew = clock ? clock.now.getTime() - workerNow.getTime() : 0;
  return reference.getTime() + skew - windowMs;
}
