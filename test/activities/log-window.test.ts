import { linesInWindow, logLineTime, parseHostClock, windowStart } from '../../activities/log-window';

describe('the log window', () => {
  const utc = parseHostClock('2026-11-29T14:16:37+0000')!;

  test("syslog timestamps are read in the host's local time, as its date says", () => {
    const paris = parseHostClock('2026-11-29T15:16:37+0100');
    expect(paris).toEqual({ now: new Date('2026-11-29T14:16:37Z'), utcOffsetMinutes: 60 });
    expect(logLineTime('Nov 29 15:00:00 mx postfix/master[1]: daemon started', paris!)).toBe(
      Date.parse('2026-11-29T14:00:00Z'),
    );
    expect(logLineTime('Nov  9 14:00:00 imap-login: Info: x', utc)).toBe(Date.parse('2026-11-09T14:00:00Z'));
    expect(logLineTime('2026-11-29T13:00:00.123456+01:00 mx postfix/smtpd[2]: x', utc)).toBe(
      Date.parse('2026-11-29T12:00:00.123Z'),
    );
    expect(logLineTime('no timestamp here', utc)).toBeUndefined();
  });

  test('a December line read on the first of January belongs to last year', () => {
    const newYear = parseHostClock('2027-01-01T00:05:00+0000')!;
    expect(logLineTime('Dec 31 23:59:00 mx postfix/master[1]: x', newYear)).toBe(Date.parse('2026-12-31T23:59:00Z'));
  });

  test('lines older than the window are dropped; untimed lines follow the line before them', () => {
    const since = windowStart(new Date('2026-11-29T14:16:00Z'), 30 * 60_000, utc, new Date('2026-11-29T14:16:37Z'));
    expect(new Date(since).toISOString()).toBe('2026-11-29T13:46:00.000Z');
    const log = [
      'continuation of something older than the file',
      'Nov 29 12:00:00 mx postfix/master[700]: fatal: bind 0.0.0.0 port 25: Address already in use',
      '   its continuation',
      'Nov 29 14:04:37 mx postfix/master[7242]: fatal: bind 127.0.0.1 port 2525: Address already in use',
      '   and its continuation',
    ].join('\n');
    expect(linesInWindow(log, utc, since).map((line) => line.text)).toEqual([
      'Nov 29 14:04:37 mx postfix/master[7242]: fatal: bind 127.0.0.1 port 2525: Address already in use',
      '   and its continuation',
    ]);
  });

  test("a host clock ahead of the worker's moves the window with it", () => {
    const ahead = parseHostClock('2026-11-29T14:26:37+0000')!;
    const since = windowStart(new Date('2026-11-29T14:16:37Z'), 30 * 60_000, ahead, new Date('2026-11-29T14:16:37Z'));
    expect(new Date(since).toISOString()).toBe('2026-11-29T13:56:37.000Z');
  });
});
