import type { Locale } from '../../config/schema';

/** The Intl locale each language is shown in: en-GB writes the day before the month and a 24-hour clock. */
const INTL_LOCALES: Record<Locale, string> = { en: 'en-GB', fr: 'fr-FR' };

export function intlLocale(locale: Locale): string {
  return INTL_LOCALES[locale];
}

export interface LocalTime {
  /** `Sunday, 29 November 2026 at 12:26 (UTC+1)`, for sentences. */
  long(iso: string): string;
  /** `29/11/2026, 12:26:03 (UTC+1)`, for tables. */
  short(iso: string): string;
}

/** `GMT+1` and `UTC+1` say the same; UTC is what readers recognise in every language. */
function offsetName(parts: Intl.DateTimeFormatPart[]): string {
  const name = parts.find((part) => part.type === 'timeZoneName')?.value ?? 'UTC';
  const offset = name.replace(/^GMT/, 'UTC');
  return offset === 'UTC+0' ? 'UTC' : offset;
}

/**
 * Formats instants in one language and zone, always naming the offset so readers in other zones can convert.
 *
 * @example createLocalTime('fr', 'Europe/Paris').long('2026-11-29T11:26:00Z') // 'dimanche 29 novembre 2026 à 12:26 (UTC+1)'
 */
export function createLocalTime(locale: Locale, timeZone: string): LocalTime {
  const tag = intlLocale(locale);
  const sentence = new Intl.DateTimeFormat(tag, {
    timeZone,
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
  const compact = new Intl.DateTimeFormat(tag, {
    timeZone,
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const offset = new Intl.DateTimeFormat(tag, { timeZone, timeZoneName: 'shortOffset' });
  const format = (formatter: Intl.DateTimeFormat) => (iso: string) => {
    const time = new Date(iso);
    if (Number.isNaN(time.getTime())) return iso;
    return `${formatter.format(time)} (${offsetName(offset.formatToParts(time))})`;
  };
  return { long: format(sentence), short: format(compact) };
}
